"""View helpers shared by several blueprints: the settings and profile editors, the
per-provider credential panels, the 409 handling of every versioned edit form
(``conflicts.keep_typed``) and streaming responses. The answer to a form post itself is
``webapp.htmx.respond``."""

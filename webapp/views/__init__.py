"""View helpers shared by several blueprints: the settings and profile editors and the
per-provider credential panels."""

"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi …``."""

from gunicorn.errors import AppImportError

from webapp import create_app
from webapp.config import ConfigError


class StartupRefused(ConfigError, AppImportError):
    """A configuration error as one line, wherever it is raised: a gunicorn worker prints it
    and the master stops ("App failed to load") instead of booting workers again and again;
    ``gunicorn --preload`` and ``flask …`` print it as ``Error: …`` and exit with status 1."""


try:
    app = create_app()
except ConfigError as exc:
    raise StartupRefused(f"Switchboard cannot start: {exc.message}") from None

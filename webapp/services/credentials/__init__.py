"""Provider keys: encryption at rest, storage at three scopes, rotation, which key
serves a call, the SSRF guard with its allowed private hosts, and the import of keys kept in
environment variables (env_import.py)."""

"""Provider keys: encryption at rest, storage at three scopes, rotation, which key
serves a call, and the SSRF guard with its allowed private hosts."""

"""Access tokens: creating, listing and revoking them (``manage``), and recognising one on a
request to the gateway or the API (``auth``). The secret is shown once; only its SHA-256 hash
and a short visible prefix are stored (``secrets``)."""

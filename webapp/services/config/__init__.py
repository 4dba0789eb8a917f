"""Configuration as a document: export, and import as a checked plan applied in one
transaction."""

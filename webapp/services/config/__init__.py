"""Configuration as a document: export, and import as a checked plan applied in one
transaction. Records are checked and written by their own services (and so by their
schemas), exactly as the admin forms do."""

"""The audit log: recording every configuration change with a secret-free diff, and
reading it back for the admin page."""

"""People and organizations: users, passwords, sessions, organizations and
memberships."""

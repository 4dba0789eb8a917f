"""People and organizations: users (users.py), passwords (passwords.py), sessions and their
tokens (sessions.py), sign-in delays (sign_in_throttle.py), organizations and memberships
(orgs.py; what an organization may hold is defined once, in schemas.py) and invitations
to them (invitations.py)."""

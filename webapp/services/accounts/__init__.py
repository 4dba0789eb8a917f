"""People and organizations: users (users.py), passwords (passwords.py), sessions and their
tokens (sessions.py), sign-in delays (sign_in_throttle.py), the recent sign-in dangerous
changes need (recent_sign_in.py), organizations and memberships
(orgs.py; what an organization may hold is defined once, in schemas.py), invitations to
them (invitations.py), and single sign-on: provider settings (sso_config.py), the OpenID
Connect protocol (oidc.py) and who an identity signs in as (sso.py)."""

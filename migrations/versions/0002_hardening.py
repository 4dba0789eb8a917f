"""Hardening: session tokens, forced password changes, org invitations, keys bound to the
origin they were confirmed for, and allowed private hosts that name one port.

- users.session_nonce becomes users.session_token (64 hex characters; existing sessions end,
  since every token is renewed), plus must_change_password and password_changed_at.
- org_invitations: pending places in an organization for an email address.
- credentials.approved_origin and providers.env_key_origin: the origin a key may be sent to.
  Existing keys are approved for the origin they are sent to today, so nothing pauses on
  upgrade.
- allowed_hosts gets a port. "host:port" entries are split; a host-only entry becomes one
  entry for each port a stored base URL on that host uses (80/443 if none does), instead of
  every port of the host.

Revision ID: 0002_hardening
Revises: 0001_initial
Create Date: 2026-11-30 20:10:00

"""

import secrets
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0002_hardening"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

# The SDKs' default base URLs when a provider has none (copied: migrations never import app code).
DEFAULT_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}


def _origin(url):
    """scheme://host:port of a URL, the port always written out; None when unusable."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port}"


def _split_host(entry):
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    else:
        host, port = entry, ""
    return host.rstrip("."), (int(port) if port.isdigit() else None)


def upgrade():
    bind = op.get_bind()

    with op.batch_alter_table("users") as batch:
        batch.alter_column(
            "session_nonce",
            new_column_name="session_token",
            existing_type=sa.String(length=32),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("password_changed_at", sa.DateTime(), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("session_token", sa.String))
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(
            users.update().where(users.c.id == user_id).values(session_token=secrets.token_hex(32))
        )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("must_change_password", server_default=None)

    op.create_table(
        "org_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("org_role", sa.String(length=16), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "org_role IN ('org_admin', 'member')", name=op.f("ck_org_invitations_org_role_valid")
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["users.id"],
            name=op.f("fk_org_invitations_invited_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_org_invitations_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_invitations")),
        sa.UniqueConstraint("org_id", "email", name=op.f("uq_org_invitations_org_id_email")),
    )
    with op.batch_alter_table("org_invitations") as batch:
        batch.create_index(batch.f("ix_org_invitations_email"), ["email"], unique=False)

    with op.batch_alter_table("credentials") as batch:
        batch.add_column(sa.Column("approved_origin", sa.String(length=300), nullable=True))
    with op.batch_alter_table("providers") as batch:
        batch.add_column(sa.Column("env_key_origin", sa.String(length=300), nullable=True))

    providers = sa.table(
        "providers",
        sa.column("id", sa.Integer),
        sa.column("protocol", sa.String),
        sa.column("base_url", sa.String),
        sa.column("env_key_origin", sa.String),
    )
    credentials = sa.table(
        "credentials",
        sa.column("id", sa.Integer),
        sa.column("provider_id", sa.Integer),
        sa.column("base_url", sa.String),
        sa.column("approved_origin", sa.String),
    )
    provider_urls = {}
    for pid, protocol, base_url in bind.execute(
        sa.select(providers.c.id, providers.c.protocol, providers.c.base_url)
    ).all():
        url = base_url or DEFAULT_URLS.get(protocol)
        provider_urls[pid] = url
        bind.execute(
            providers.update().where(providers.c.id == pid).values(env_key_origin=_origin(url))
        )
    used_urls = [u for u in provider_urls.values() if u]
    for cid, pid, base_url in bind.execute(
        sa.select(credentials.c.id, credentials.c.provider_id, credentials.c.base_url)
    ).all():
        url = base_url or provider_urls.get(pid)
        if base_url:
            used_urls.append(base_url)
        bind.execute(
            credentials.update().where(credentials.c.id == cid).values(approved_origin=_origin(url))
        )

    # Allowed hosts: one row per host and port.
    old_hosts = sa.table(
        "allowed_hosts",
        sa.column("id", sa.Integer),
        sa.column("host", sa.String),
        sa.column("note", sa.String),
        sa.column("created_by_id", sa.Integer),
        sa.column("created_at", sa.DateTime),
    )
    rows = bind.execute(
        sa.select(
            old_hosts.c.host, old_hosts.c.note, old_hosts.c.created_by_id, old_hosts.c.created_at
        )
    ).all()
    used = set()
    for url in used_urls:
        origin = _origin(url)
        if origin:
            host, port = _split_host(origin.split("://", 1)[1])
            used.add((host.strip("[]"), port))
    entries = {}
    for entry, note, created_by_id, created_at in rows:
        host, port = _split_host(entry)
        host = host.strip("[]")
        in_use = sorted(p for h, p in used if h == host) or [80, 443]
        ports = [port] if port is not None else in_use
        for each in ports:
            entries.setdefault((host, each), (note, created_by_id, created_at))
    bind.execute(old_hosts.delete())
    with op.batch_alter_table("allowed_hosts") as batch:
        batch.drop_constraint("uq_allowed_hosts_host", type_="unique")
        batch.add_column(sa.Column("port", sa.Integer(), nullable=False, server_default="443"))
        batch.create_unique_constraint(batch.f("uq_allowed_hosts_host_port"), ["host", "port"])
        batch.create_check_constraint(
            batch.f("ck_allowed_hosts_port_range"), "port >= 1 AND port <= 65535"
        )
    with op.batch_alter_table("allowed_hosts") as batch:
        batch.alter_column("port", server_default=None)
    new_hosts = sa.table(
        "allowed_hosts",
        sa.column("host", sa.String),
        sa.column("port", sa.Integer),
        sa.column("note", sa.String),
        sa.column("created_by_id", sa.Integer),
        sa.column("created_at", sa.DateTime),
    )
    for (host, port), (note, created_by_id, created_at) in entries.items():
        bind.execute(
            new_hosts.insert().values(
                host=host, port=port, note=note, created_by_id=created_by_id, created_at=created_at
            )
        )


def downgrade():
    hosts = sa.table(
        "allowed_hosts",
        sa.column("id", sa.Integer),
        sa.column("host", sa.String),
        sa.column("port", sa.Integer),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(hosts.c.id, hosts.c.host, hosts.c.port)).all()
    with op.batch_alter_table("allowed_hosts") as batch:
        batch.drop_constraint(batch.f("ck_allowed_hosts_port_range"), type_="check")
        batch.drop_constraint("uq_allowed_hosts_host_port", type_="unique")
    for row_id, host, port in rows:
        shown = f"[{host}]" if ":" in host else host
        bind.execute(hosts.update().where(hosts.c.id == row_id).values(host=f"{shown}:{port}"))
    with op.batch_alter_table("allowed_hosts") as batch:
        batch.drop_column("port")
        batch.create_unique_constraint("uq_allowed_hosts_host", ["host"])
    with op.batch_alter_table("providers") as batch:
        batch.drop_column("env_key_origin")
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("approved_origin")
    with op.batch_alter_table("org_invitations") as batch:
        batch.drop_index(batch.f("ix_org_invitations_email"))
    op.drop_table("org_invitations")
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("session_token", sa.String))
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(
            users.update().where(users.c.id == user_id).values(session_token=secrets.token_hex(16))
        )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_changed_at")
        batch.drop_column("must_change_password")
        batch.alter_column(
            "session_token",
            new_column_name="session_nonce",
            existing_type=sa.String(length=64),
            type_=sa.String(length=32),
            existing_nullable=False,
        )

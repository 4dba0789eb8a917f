"""``flask tokens create EMAIL --name NAME [--org SLUG] [--expires-days N]``: a personal
access token for scripts, printed once."""

from __future__ import annotations

import click

from webapp.models import TokenScope
from webapp.services.accounts import users
from webapp.services.errors import ValidationError
from webapp.services.tokens import manage
from webapp.services.tokens.rules import TokenInput


@click.group("tokens")
def tokens_group() -> None:
    """Access tokens for the gateway and the management API."""


@tokens_group.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for, e.g. the application.")
@click.option("--org", "org_slug", help="Slug of one of the user's orgs the token runs in.")
@click.option("--expires-days", type=int, help="Days until it expires (default: never).")
@click.option(
    "--scope",
    type=click.Choice([s.value for s in TokenScope]),
    default=TokenScope.GATEWAY.value,
    show_default=True,
)
@click.option("--models", help="Allowed models or patterns, comma-separated (e.g. openai/*).")
def create_token_command(
    email: str,
    name: str,
    org_slug: str | None,
    expires_days: int | None,
    scope: str,
    models: str | None,
) -> None:
    """Create a personal token for EMAIL and print it once on standard output.

    Only its hash is stored: the token cannot be shown again. Notes go to standard error,
    so ``TOKEN=$(flask --app wsgi tokens create …)`` captures the token alone.
    """
    user = users.find_by_email(email)
    if user is None:
        raise click.ClickException(f"No user has the email {email!r}.")
    org_id = None
    if org_slug is not None:
        org = manage.org_by_slug(org_slug)
        if org is None:
            raise click.ClickException(f"No organization has the slug {org_slug!r}.")
        org_id = org.id
    data = TokenInput(name=name, scope=scope, allowed_models=models, expires_in_days=expires_days)
    try:
        created = manage.create_personal_token(user, data, actor=None, org_id=org_id)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(created.secret)
    click.echo(
        f"Created token {created.token.name!r} ({created.token.prefix}…) for {user.email}. "
        "It is shown only this once.",
        err=True,
    )

"""``flask create-user`` and the other account commands."""

from __future__ import annotations

import sys

import click

from webapp.models import Role
from webapp.services.accounts import users
from webapp.services.errors import ValidationError


@click.command("create-user")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.MEMBER.value,
    show_default=True,
)
@click.option("--password", help="The password; read from stdin when omitted.")
@click.option("--name", "display_name", help="Display name.")
def create_user_command(
    email: str, role: str, password: str | None, display_name: str | None
) -> None:
    """Create a user. The password comes from --password or standard input."""
    if password is None:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\n")
    try:
        user = users.create_user(email, password, role=role, display_name=display_name, actor=None)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created {user.email} ({user.role})")

"""``flask create-user``, ``flask reset-password`` and the other account commands."""

from __future__ import annotations

import sys

import click

from webapp.models import Role
from webapp.services.accounts import passwords, users
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
        password = _read_password()
    try:
        user = users.create_user(email, password, role=role, display_name=display_name, actor=None)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created {user.email} ({user.role})")


def _read_password() -> str:
    """A password typed twice on a terminal, or one line of piped standard input."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


@click.command("reset-password")
@click.argument("email")
@click.option("--password", help="The new password (checked like any other).")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the new password from stdin.")
def reset_password_command(email: str, password: str | None, from_stdin: bool) -> None:
    """Reset a user's password, e.g. a locked-out admin's; every session of theirs ends.

    Without --password or --stdin a password is generated, printed once, and must be
    changed at the next sign-in.
    """
    user = users.find_by_email(email)
    if user is None:
        raise click.ClickException(f"No user has the email {email!r}.")
    if password is None and from_stdin:
        password = _read_password()
    if password is None:
        generated = passwords.reset_password(user, actor=None)
        click.echo(f"New password for {user.email}: {generated}")
        click.echo("Shown once. It must be changed at the next sign-in.")
        return
    try:
        passwords.set_password(user, password, actor=None)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Password of {user.email} changed; their sessions have ended.")

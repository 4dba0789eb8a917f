"""``flask --app wsgi …`` commands, one module per domain."""

from __future__ import annotations

import click
from flask import Flask

from webapp.cli.accounts import create_user_command, reset_password_command
from webapp.cli.billing import credits_group
from webapp.cli.catalog import seed_command
from webapp.cli.config import config_group
from webapp.cli.credentials import credentials_group
from webapp.cli.encryption_keys import encryption_keys_group
from webapp.cli.tokens import tokens_group
from webapp.cli.usage import demo_command, usage_group


def _alias(group: click.Group, name: str, note: str) -> click.Group:
    """The same commands under an older name, kept for one release: marked deprecated in the
    help, and each use says so on standard error (standard output stays the command's own)."""

    def warn() -> None:
        click.echo(f"`{name}` is a deprecated alias of `{group.name}`: use that.", err=True)

    return click.Group(
        name, commands=group.commands, callback=warn, help=f"{note} (deprecated alias)."
    )


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(reset_password_command)
    app.cli.add_command(encryption_keys_group)
    app.cli.add_command(_alias(encryption_keys_group, "keys", "Same as `encryption-keys`"))
    app.cli.add_command(config_group)
    app.cli.add_command(credits_group)
    app.cli.add_command(tokens_group)
    app.cli.add_command(credentials_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(usage_group)

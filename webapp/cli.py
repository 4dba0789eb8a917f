"""``flask --app wsgi …`` commands: seed, create-user."""

from __future__ import annotations

import sys

import click
from flask import Flask

from webapp.models import Role
from webapp.services import crypto, key_rotation, seed, users
from webapp.services.errors import ValidationError


@click.command("seed")
def seed_command() -> None:
    """Insert the provider presets, model catalog and profiles (idempotent)."""
    report = seed.seed_all()
    click.echo(report.summary())
    if report.unpriced:
        click.echo("unpriced (no price data): " + ", ".join(report.unpriced))


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


@click.group("keys")
def keys_group() -> None:
    """Encryption keys for stored provider keys: generate, rotate, check."""


@keys_group.command("generate")
@click.option("--version", "version", help="Version name (default: the next v<n>).")
def keys_generate(version: str | None) -> None:
    """Print a new key entry to put first in SWITCHBOARD_ENCRYPTION_KEYS."""
    name = version or crypto.next_version(crypto.keyring())
    try:
        click.echo(crypto.generate_entry(name))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--version") from None


@keys_group.command("rotate")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10000))
def keys_rotate(batch_size: int) -> None:
    """Re-encrypt every stored secret with the current (first) key; safe to re-run."""
    click.echo(f"rotating to key {crypto.keyring().current} in batches of {batch_size}")
    report = key_rotation.rotate_all(
        batch_size, on_batch=lambda r: click.echo(f"  {r.summary()}", err=True)
    )
    click.echo(report.summary())
    if report.failed_ids:
        raise click.ClickException(
            f"{len(report.failed_ids)} rows could not be decrypted (ids: "
            f"{', '.join(map(str, report.failed_ids[:20]))}); run `keys check`."
        )


@keys_group.command("check")
def keys_check() -> None:
    """Report stored secrets that do not decrypt with the configured keys."""
    report = key_rotation.check_all()
    versions = ", ".join(f"{v}={n}" for v, n in sorted(report.by_version.items())) or "none"
    click.echo(
        f"checked={report.total} by_key_version: {versions} undecryptable={len(report.failed)}"
    )
    for row_id, reason in report.failed:
        click.echo(f"  credential {row_id}: {reason}")
    if report.failed:
        raise SystemExit(1)


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(keys_group)

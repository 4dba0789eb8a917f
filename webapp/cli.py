"""``flask --app wsgi …`` commands: seed, create-user."""

from __future__ import annotations

import sys
from typing import BinaryIO

import click
from flask import Flask

from webapp.models import Role
from webapp.services import (
    config_apply,
    config_export,
    config_import,
    config_io,
    crypto,
    key_rotation,
    seed,
    users,
)
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


@click.group("config")
def config_group() -> None:
    """Export or import providers, models, settings, profiles, features and orgs (no secrets)."""


@config_group.command("export")
@click.option("--format", "fmt", type=click.Choice(config_io.FORMATS), default="yaml")
@click.option("--output", type=click.Path(dir_okay=False), help="A file instead of stdout.")
def config_export_command(fmt: str, output: str | None) -> None:
    """Print the configuration document (or write it to --output)."""
    text = config_export.export_text(fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(text)
    click.echo(f"wrote {output}", err=True)


@config_group.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--format", "fmt", type=click.Choice(("auto", *config_io.FORMATS)), default="auto")
@click.option("--apply", "apply_", is_flag=True, help="Write the changes; without it, a dry run.")
def config_import_command(file: BinaryIO, fmt: str, apply_: bool) -> None:
    """Show what FILE would change, or apply it in one transaction with --apply."""
    try:
        document = config_io.parse_document(file.read(config_io.MAX_DOCUMENT_BYTES + 1), fmt)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    if apply_:
        plan = config_apply.apply_import(None, document)  # the actor is the system
    else:
        plan = config_import.plan_import(document)
    if not plan.ok:
        click.echo(f"The document has {len(plan.errors)} error(s); nothing was written:", err=True)
        for issue in plan.errors:
            click.echo(f"  {issue.path or 'document'}: {issue.message}", err=True)
        raise SystemExit(1)
    click.echo("\n".join(plan.report(details=not apply_)))


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(keys_group)
    app.cli.add_command(config_group)

"""``flask encryption-keys generate|rotate|check`` (``keys`` is a deprecated alias for one
release)."""

from __future__ import annotations

import click

from webapp.extensions import db
from webapp.services.credentials import crypto
from webapp.services.credentials import hints as key_hints
from webapp.services.credentials import rotation as key_rotation


@click.group("encryption-keys")
def encryption_keys_group() -> None:
    """Encryption keys for stored provider keys: generate, rotate, check (alias: ``keys``)."""


@encryption_keys_group.command("generate")
@click.option("--version", "version", help="Version name (default: the next v<n>).")
def keys_generate(version: str | None) -> None:
    """Print a new key entry to put first in SWITCHBOARD_ENCRYPTION_KEYS."""
    name = version or crypto.next_version(crypto.keyring())
    try:
        click.echo(crypto.generate_entry(name))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--version") from None


@encryption_keys_group.command("rotate")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10000))
def keys_rotate(batch_size: int) -> None:
    """Re-encrypt every stored secret with the current (first) key, and recompute the key
    hints the masks show; safe to re-run."""
    click.echo(f"rotating to key {crypto.keyring().current} in batches of {batch_size}")
    report = key_rotation.rotate_all(
        batch_size, on_batch=lambda r: click.echo(f"  {r.summary()}", err=True)
    )
    click.echo(report.summary())
    # Every secret is readable here: the hints of keys saved before the short-key rule (or
    # cleared by a migration run without the keys) are recomputed on the way.
    click.echo(key_hints.repair_hints(db.session.connection(), crypto.keyring()).summary())
    db.session.commit()
    if report.failed_ids:
        raise click.ClickException(
            f"{len(report.failed_ids)} rows could not be decrypted (ids: "
            f"{', '.join(map(str, report.failed_ids[:20]))}); run `encryption-keys check`."
        )


@encryption_keys_group.command("check")
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

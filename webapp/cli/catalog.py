"""``flask seed``: the provider presets and the model catalog."""

from __future__ import annotations

import click

from webapp.services.catalog import seed


@click.command("seed")
def seed_command() -> None:
    """Insert the provider presets, model catalog and profiles (idempotent)."""
    report = seed.seed_all()
    click.echo(report.summary())
    if report.unpriced:
        click.echo("unpriced (no price data): " + ", ".join(report.unpriced))

"""``flask credentials import-env [--apply]``: provider keys from environment variables into
encrypted global keys."""

from __future__ import annotations

import click

from webapp.services.credentials import env_import


@click.group("credentials")
def credentials_group() -> None:
    """Stored provider keys."""


@credentials_group.command("import-env")
@click.option("--apply", "apply", is_flag=True, help="Store the keys (default: only list them).")
def import_env_command(apply: bool) -> None:
    """Move each provider's fallback key (its ``api_key_env`` variable, e.g. OPENAI_API_KEY)
    into an encrypted global key. Without --apply, list what would be imported (masked).

    Keys already stored for the provider are skipped, so running it again is safe. Remove the
    variables from the environment afterwards.
    """
    items = env_import.apply_import() if apply else env_import.plan_import()
    if not items:
        click.echo("No provider key variable is set: nothing to import.")
        return
    for item in items:
        click.echo(item.line(applied=apply))
    count = sum(item.action == env_import.IMPORT for item in items)
    if apply:
        click.echo(f"{count} key(s) imported. Now remove the variables from the environment.")
    else:
        click.echo(f"{count} key(s) would be imported. Run again with --apply to store them.")
    if any(item.action == env_import.REFUSED for item in items):
        raise SystemExit(1)

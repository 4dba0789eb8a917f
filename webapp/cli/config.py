"""``flask config export|import``: the configuration as a document."""

from __future__ import annotations

from typing import BinaryIO

import click

from webapp.services.config import apply as config_apply
from webapp.services.config import export as config_export
from webapp.services.config import importing as config_import
from webapp.services.config.document import FORMATS, MAX_DOCUMENT_BYTES, parse_document
from webapp.services.errors import ValidationError


@click.group("config")
def config_group() -> None:
    """Export or import providers, models, settings, profiles, features and orgs (no secrets)."""


@config_group.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="yaml")
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
@click.option("--format", "fmt", type=click.Choice(("auto", *FORMATS)), default="auto")
@click.option("--apply", "apply_", is_flag=True, help="Write the changes; without it, a dry run.")
def config_import_command(file: BinaryIO, fmt: str, apply_: bool) -> None:
    """Show what FILE would change, or apply it in one transaction with --apply."""
    try:
        document = parse_document(file.read(MAX_DOCUMENT_BYTES + 1), fmt)
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

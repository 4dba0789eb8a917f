"""``flask demo`` (demo data) and ``flask usage …`` (rollups, retention, metering outbox)."""

from __future__ import annotations

import time

import click

from webapp.services.errors import ServiceError
from webapp.services.usage import demo, rollups


@click.command("demo")
@click.option("--records", default=50_000, show_default=True, help="Usage records to write.")
@click.option("--users", default=60, show_default=True)
@click.option("--orgs", default=5, show_default=True)
@click.option("--days", default=90, show_default=True, help="How far back the records go.")
@click.option("--force", is_flag=True, help="Add to a database that holds real usage records.")
def demo_command(records: int, users: int, orgs: int, days: int, force: bool) -> None:
    """Fill the database with realistic demo data: orgs, people, keys, credits, usage."""
    started = time.perf_counter()
    with click.progressbar(length=records, label="usage records") as bar:
        try:
            result = demo.fill(
                records=records, users=users, orgs=orgs, days=days, force=force, progress=bar.update
            )
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
    elapsed = time.perf_counter() - started
    click.echo(
        f"demo data: {result.orgs} organizations, {result.users} people, {result.records} records"
        f" in {elapsed:.1f} s ({result.records / max(elapsed, 1e-9):.0f} records/s)."
    )
    click.echo(f"The demo people sign in with the password: {result.password}")


@click.group("usage")
def usage_group() -> None:
    """Usage records: rollups, retention and the metering outbox."""


@usage_group.command("rollup")
@click.option("--rebuild", is_flag=True, help="Recompute every rollup from the records.")
def rollup_command(rebuild: bool) -> None:
    """Bring the dashboard's daily rollups up to date (or rebuild them)."""
    if rebuild:
        click.echo(f"rebuilt from {rollups.rebuild()} records")
    else:
        click.echo(f"rolled up {rollups.catch_up_all()} records")


@usage_group.command("prune")
def prune_command() -> None:
    """Clear bodies and delete records older than the retention settings, in batches."""
    from webapp.services.usage import retention

    settings = retention.current()
    if settings.body_days is None and settings.record_days is None:
        click.echo("No retention is set (Usage → Retention): nothing to prune.")
        return
    result = retention.prune()
    click.echo(f"bodies_cleared={result.bodies_cleared} records_deleted={result.records_deleted}")


@usage_group.command("outbox")
@click.option("--retry", is_flag=True, help="Put parked entries back and write them now.")
def outbox_command(retry: bool) -> None:
    """This host's metering outbox: entries waiting to be written, parked ones (refused too
    often) and quarantined lines. Exit status 1 while any are parked or quarantined."""
    from webapp.services.llm import outbox

    if retry:
        moved = outbox.retry_parked()
        click.echo(f"retried={moved} landed={outbox.drain()}")
    state = outbox.state()
    for entry in state.parked:
        click.echo(
            f"parked {entry.request_id}: refused {entry.attempts} times ({entry.failure}), "
            f"parked at {entry.parked_at}"
        )
    if state.quarantined:
        click.echo(
            f"{state.quarantined} line(s) that are not metering entries are kept in "
            f"{outbox.DIRECTORY}/{outbox.QUARANTINE} under the instance folder"
        )
    click.echo(
        f"pending={state.pending} parked={len(state.parked)} quarantined={state.quarantined}"
    )
    if state.parked or state.quarantined:
        raise SystemExit(1)

"""``vlagent envs``: every environment vlagent can drive, what it needs and whether it runs on this machine.

::

    vlagent envs            # a table
    vlagent envs --json     # a JSON array of {name, spec, description, needs, available, why}

The spec column is what ``--env`` takes (``synthetic:login``, ``gym:ENV_ID``, ``android[:SERIAL]``).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from vlagent.agent.cli import app


@app.command("envs")
def envs_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """List the environments: the spec --env takes, what each needs, and whether it is available here."""
    from vlagent.envs.registry import KINDS, list_envs

    rows = list_envs()
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="vlagent environments", show_lines=True)
    table.add_column("spec", style="bold", no_wrap=True)
    table.add_column("what it is")
    table.add_column("needs")
    table.add_column("here", no_wrap=True)
    table.add_column("why / details")
    # The synthetic apps come from one module, so their needs/availability/why are the same text: one row
    # for all of them (the table stays short at 80 columns), each app's description under the table.
    apps = [r for r in rows if r.name.startswith("synthetic:")]
    for r in rows:
        if r in apps[1:]:
            continue
        spec, description = r.spec, r.description
        if apps and r is apps[0]:
            spec = "\n".join(a.spec for a in apps)
            description = f"{KINDS['synthetic'].description} (apps listed below)"
        here = "[green]yes[/]" if r.available else "[red]no[/]"
        # escape(): "vlagent[desktop]" in a needs text is not rich markup
        table.add_row(escape(spec), escape(description), escape(r.needs), here, escape(r.why))
    console = Console()
    console.print(table)
    if apps:
        listing = Table.grid(padding=(0, 2))
        listing.add_column(no_wrap=True)
        listing.add_column()  # wraps under itself, not under the spec
        for a in apps:
            listing.add_row(escape(a.spec), escape(a.description))
        console.print("synthetic apps:", markup=False)
        console.print(listing)
    ready = sum(r.available for r in rows)
    typer.echo(f"{ready} of {len(rows)} available on this machine; use a spec with: vlagent run --env SPEC")

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
    from vlagent.envs.registry import list_envs

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
    for r in rows:
        here = "[green]yes[/]" if r.available else "[red]no[/]"
        # escape(): "vlagent[desktop]" in a needs text is not rich markup
        table.add_row(escape(r.spec), escape(r.description), escape(r.needs), here, escape(r.why))
    Console().print(table)
    ready = sum(r.available for r in rows)
    typer.echo(f"{ready} of {len(rows)} available on this machine; use a spec with: vlagent run --env SPEC")

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

    # One block per env, not a five-column table: at 80 columns the table cut the install hints
    # ("pip install 'vlagent[desk…") and wrapped every cell into a tall narrow column.
    console = Console()
    apps = [r for r in rows if r.name.startswith("synthetic:")]
    for r in rows:
        if r in apps[1:]:
            continue
        spec, description = r.spec, r.description
        if apps and r is apps[0]:
            spec = " | ".join(a.spec for a in apps)
            description = KINDS["synthetic"].description
        here = "[green]yes[/]" if r.available else "[red]no[/]"
        block = Table.grid(padding=(0, 1))
        block.add_column(no_wrap=True, style="dim")
        block.add_column(overflow="fold")  # a long word (a path, a pip extra) folds instead of "…"
        block.add_row("needs", escape(r.needs))
        block.add_row("here", f"{here}: {escape(r.why)}" if r.why else here)
        console.print(f"[bold]{escape(spec)}[/]  {escape(description)}")
        console.print(block)
        console.print()
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

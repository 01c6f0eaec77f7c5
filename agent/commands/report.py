"""``vlagent report RUN_DIR``: the static HTML report of a run or an evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vlagent.agent.cli import app


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="An episode folder, a run folder or an eval folder.")],
    title: Annotated[str | None, typer.Option(help="The page title.")] = None,
) -> None:
    """Write RUN_DIR/index.html: every episode's steps with thoughts, replies, actions, annotated screenshots.

    The page opens from disk (relative image paths, no server); for an evaluation it starts with a
    summary table per suite.
    """
    from vlagent.agent.report import write_report

    typer.echo(str(write_report(run_dir, title=title)))

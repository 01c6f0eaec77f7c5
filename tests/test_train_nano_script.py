"""scripts/train-nano.sh is the recipe of the shipped nano model; CI does not run it (hours), so its flags are checked."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from vlagent.agent.cli import _register_commands, app

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train-nano.sh"


def _options(name: str) -> set[str]:
    """Every long option of ``vlagent NAME`` (both halves of a ``--x/--no-x`` switch)."""
    _register_commands()
    group = typer.main.get_command(app)
    command = group.get_command(None, name)  # type: ignore[attr-defined]
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--")}


def test_every_flag_the_nano_recipe_passes_is_an_option_of_the_command_it_runs():
    lines = [line.split("#", 1)[0] for line in SCRIPT.read_text().splitlines()]
    code = "\n".join(line for line in lines if not line.lstrip().startswith("echo"))  # not the hints it prints
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", code))
    assert {"--prev-token-aux", "--copy-readout-aux", "--kinds", "--pointer-aux-from"} <= flags  # the parse found them
    unknown = flags - _options("train") - _options("nano-model")
    assert not unknown, f"scripts/train-nano.sh passes flags no command has: {sorted(unknown)}"

"""``vlagent replay RUN_DIR``: re-execute recorded actions and report where the env now differs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vlagent.agent.cli import app
from vlagent.agent.commands.agent_options import parse_env_kwargs
from vlagent.agent.commands.safety_options import (
    STOP_HOTKEY_HELP,
    ConfirmChoice,
    armed_stop_hotkey,
    build_safety,
)
from vlagent.agent.safety import DEFAULT_STOP_HOTKEY

if TYPE_CHECKING:
    from vlagent.agent.replay import ReplayReport


@app.command()
def replay(
    run_dir: Annotated[Path, typer.Argument(help="An episode folder (or a folder of episodes).")],
    execute: Annotated[
        bool, typer.Option("--execute", help="Really execute the actions (default: only list and check them).")
    ] = False,
    env: Annotated[str | None, typer.Option(help="Replay on this env spec instead of the recorded one.")] = None,
    env_kwargs: Annotated[str | None, typer.Option(help="JSON env kwargs (default: the recorded ones).")] = None,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", help="Replay every step even after the replay has diverged.")
    ] = False,
    screen_tolerance: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Share of pixels that may differ (default: 0 on drawn screens, "
                     "0.01 on a desktop or phone)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Execute nothing, even with --execute.")] = False,
    confirm: Annotated[
        ConfirmChoice, typer.Option(help="Ask before executing: never, all actions, or sensitive ones.")
    ] = ConfirmChoice.never,
    sensitive: Annotated[
        list[str] | None,
        typer.Option("--sensitive", help="Extra action type that --confirm sensitive asks about (repeatable)."),
    ] = None,
    deny_hotkey: Annotated[
        list[str] | None,
        typer.Option("--deny-hotkey", help="Key combination never sent, e.g. ctrl+w (repeatable; adds to the defaults)."),
    ] = None,
    stop_hotkey: Annotated[str, typer.Option(help=STOP_HOTKEY_HELP)] = DEFAULT_STOP_HOTKEY,
    interactive: Annotated[
        bool | None, typer.Option(help="Ask --confirm questions on this terminal (default: when stdin is one).")
    ] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option("--secret", metavar="NAME=VALUE",
                     help="The value of a secret the run used (records hold only <secret>NAME</secret>; repeatable)."),
    ] = None,
) -> None:
    """Replay recorded screen-space actions, a dry run unless --execute; exits 1 when the replay diverges.

    Every action goes through the same safety policy as `vlagent run` (the hotkey deny-list, --confirm,
    --dry-run, the stop hotkey). With --execute the env is reset with the recorded task and seed and, after
    each step, the screen, reward and termination are compared with the recording; the replay stops at the
    first divergence unless --keep-going.
    """
    from vlagent.agent.replay import episodes_to_replay, make_replay_env, replay_episode
    from vlagent.agent.safety import StopFlag
    from vlagent.agent.secrets import SecretEnv, activate, parse_secrets
    from vlagent.agent.trajectory import read_meta

    secrets = parse_secrets(secret or ())
    activate(secrets)
    kwargs = parse_env_kwargs(env_kwargs) if env_kwargs else None
    interactive = sys.stdin.isatty() if interactive is None else interactive
    safety = build_safety(dry_run=dry_run, confirm=confirm, sensitive=sensitive, deny_hotkey=deny_hotkey,
                          stop_hotkey=stop_hotkey, interactive=interactive)
    stop = StopFlag()
    diverged = False
    with stop.on_sigint():
        for folder in episodes_to_replay(run_dir):
            meta = read_meta(folder)
            # Made here rather than by replay_episode, so that the stop hotkey listens on its display.
            environment = make_replay_env(meta, env, kwargs) if execute and not dry_run else None
            # A recorded episode holds only placeholders: the env gets the secrets' values to type.
            acting = SecretEnv(environment, secrets) if environment is not None and secrets else environment
            try:
                with armed_stop_hotkey(environment, stop_hotkey, stop):
                    rep = replay_episode(folder, execute=execute, env=acting, env_spec=env, env_kwargs=kwargs,
                                         safety=safety, keep_going=keep_going, tolerance=screen_tolerance, stop=stop)
            except KeyboardInterrupt:  # a second Ctrl+C, or Ctrl+C / end of input at a --confirm prompt
                typer.echo(f"interrupted while replaying {folder}", err=True)
                raise typer.Exit(130) from None
            finally:
                if environment is not None:
                    environment.close()
            _print_report(folder, rep, seeded=meta.seed is not None)
            diverged = diverged or rep.diverged
            if stop.requested:
                typer.echo(f"stopped by {stop.by}; the remaining episodes were not replayed", err=True)
                raise typer.Exit(130)
    if diverged:
        raise typer.Exit(1)


def _print_report(folder: Path, rep: ReplayReport, *, seeded: bool) -> None:
    """The plan, the divergences and why the replay stopped, as the command prints them."""
    from vlagent.agent.secrets import mask_active

    mode = "executed" if rep.executed else "dry run (nothing executed; --execute to run)"
    typer.echo(f"{folder}: {len(rep.plan)} action(s) on {rep.env}, {mode}")
    for index, summary in rep.plan:
        typer.echo(f"  step {index}: {summary}")
    for d in rep.divergences:
        typer.echo(mask_active(f"  DIVERGED {d}"))
    if rep.stopped:
        typer.echo(f"  stopped: {rep.stopped}")
    if rep.divergences and not seeded:
        typer.echo("  (recorded without --seed: an env with randomness, such as a slippery FrozenLake, "
                   "plays out differently on replay; record with --seed N to replay it exactly)")
    if not rep.divergences and rep.executed and not rep.stopped:
        typer.echo("  no divergence")

"""``vlagent replay RUN_DIR``: re-execute recorded actions and report where the env now differs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vlagent.agent.cli import app
from vlagent.agent.commands.agent_options import parse_env_kwargs


@app.command()
def replay(
    run_dir: Annotated[Path, typer.Argument(help="An episode folder (or a folder of episodes).")],
    execute: Annotated[
        bool, typer.Option("--execute", help="Really execute the actions (default: only list and check them).")
    ] = False,
    env: Annotated[str | None, typer.Option(help="Replay on this env spec instead of the recorded one.")] = None,
    env_kwargs: Annotated[str | None, typer.Option(help="JSON env kwargs (default: the recorded ones).")] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option("--secret", metavar="NAME=VALUE",
                     help="The value of a secret the run used (records hold only <secret>NAME</secret>; repeatable)."),
    ] = None,
) -> None:
    """Replay recorded screen-space actions, a dry run unless --execute; exits 1 when the replay diverges.

    With --execute the env is reset with the recorded task and seed and, after each step, the screen,
    reward and termination are compared with the recording.
    """
    from vlagent.agent.secrets import activate, parse_secrets
    from vlagent.agent.trajectory import find_episodes, read_meta

    secrets = parse_secrets(secret or ())
    activate(secrets)
    kwargs = parse_env_kwargs(env_kwargs) if env_kwargs else None
    diverged = False
    for folder in find_episodes(run_dir):
        rep = _replay(folder, execute=execute, env_spec=env, env_kwargs=kwargs, secrets=secrets)
        mode = "executed" if rep.executed else "dry run (nothing executed; --execute to run)"
        typer.echo(f"{folder}: {len(rep.plan)} action(s) on {rep.env}, {mode}")
        for index, summary in rep.plan:
            typer.echo(f"  step {index}: {summary}")
        for d in rep.divergences:
            typer.echo(secrets.mask(f"  DIVERGED {d}"))
        if rep.divergences and read_meta(folder).seed is None:
            typer.echo("  (recorded without --seed: an env with randomness, such as a slippery FrozenLake, "
                       "plays out differently on replay; record with --seed N to replay it exactly)")
        if not rep.divergences and rep.executed:
            typer.echo("  no divergence")
        diverged = diverged or rep.diverged
    if diverged:
        raise typer.Exit(1)


def _replay(folder: Path, *, execute: bool, env_spec: str | None, env_kwargs: dict | None, secrets: Any) -> Any:
    """One episode's replay; with secrets, on an env that gets their values (see SecretEnv)."""
    from vlagent.agent.replay import replay_episode

    if not (execute and secrets):
        return replay_episode(folder, execute=execute, env_spec=env_spec, env_kwargs=env_kwargs)
    from vlagent.agent.secrets import SecretEnv
    from vlagent.agent.trajectory import read_meta
    from vlagent.envs.registry import make_env

    meta = read_meta(folder)
    inner = make_env(env_spec or meta.env, **(meta.env_kwargs if env_kwargs is None else env_kwargs))
    try:
        return replay_episode(folder, execute=True, env=SecretEnv(inner, secrets), env_spec=env_spec or meta.env)
    finally:
        inner.close()

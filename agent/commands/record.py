"""``vlagent record``: a person's demonstration on a desktop or phone, written as a trajectory folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vlagent.agent.cli import app
from vlagent.agent.commands.agent_options import writable_folder
from vlagent.agent.commands.safety_options import STOP_HOTKEY_OFF, stop_combo
from vlagent.agent.safety import DEFAULT_STOP_HOTKEY


@app.command()
def record(
    env: Annotated[str, typer.Option(help="desktop[:MONITOR] or android[:SERIAL].")] = "desktop",
    task: Annotated[str, typer.Option(help="What the demonstration does, in words (the episode's task).")] = "",
    out: Annotated[Path, typer.Option(help="Where recordings go (a new folder per recording).")] = Path("demos"),
    stop_hotkey: Annotated[
        str, typer.Option(help="Key combination that ends a desktop recording wherever the focus is ('off' to disable).")
    ] = DEFAULT_STOP_HOTKEY,
    interval: Annotated[
        float | None,
        typer.Option(min=0.01, help="Seconds between screen grabs (default 0.1 on a desktop, 0.25 on a phone)."),
    ] = None,
) -> None:
    """Record what a person does as a trajectory: each click, drag, scroll, key, hotkey and typed text.

    Each action is a step with the screenshot from just before it, in screen pixels, in the format the
    agent writes (`vlagent report` and the trainer read it). Stop with Ctrl+C, or on a desktop with the
    stop hotkey; the folder is then closed with a final `finished` step. Input the agent injects is
    recorded too: do not run the agent on the same screen while recording.

    Try:

      vlagent record --env desktop --task "Rename the file to report.pdf"

      vlagent record --env android:emulator-5554 --task "Turn on Wi-Fi"
    """
    from vlagent.agent.record import android_recording, desktop_recording
    from vlagent.agent.safety import StopFlag
    from vlagent.envs.registry import EnvSpec

    spec = EnvSpec.parse(env)
    writable_folder(out)
    stop = StopFlag()
    if spec.kind == "desktop":
        if spec.arg is not None and not spec.arg.isdigit():
            raise typer.BadParameter(f"the desktop spec takes a monitor number (desktop:2), got {env}",
                                     param_hint="--env")
        combo = stop_combo(stop_hotkey)
        recording = desktop_recording(out, task=task, monitor=int(spec.arg or 1), stop_hotkey=combo,
                                      interval=interval or 0.1)
        how = "Ctrl+C" + (f" or {stop_hotkey}" if stop_hotkey.strip().lower() not in STOP_HOTKEY_OFF else "")
    elif spec.kind == "android":
        recording = android_recording(out, task=task, serial=spec.arg, interval=interval or 0.25)
        how = "Ctrl+C"
    else:
        raise typer.BadParameter(f"recording works on desktop and android envs, not {spec.kind}", param_hint="--env")
    folder = recording.writer.recorder.path
    typer.echo(f"recording into {folder}; press {how} to stop", err=True)
    recording.writer.on_step = lambda step: typer.echo(f"  step {step.index}: {step.actions[0].summary}", err=True)
    with stop.on_sigint():
        try:
            meta = recording.run(stop)
        except KeyboardInterrupt:  # a second Ctrl+C while the folder was being closed
            typer.echo(f"interrupted; {folder} may lack its last step", err=True)
            raise typer.Exit(130) from None
    typer.echo(str(folder))
    typer.echo(f"recorded {meta.steps - 1} action(s); stopped by {stop.by}", err=True)

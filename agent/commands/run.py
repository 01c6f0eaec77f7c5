"""``vlagent run``: one episode on one environment, recorded, with an HTML report."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer

from vlagent.actions.errors import VlagentError
from vlagent.agent.cli import app
from vlagent.agent.commands.agent_options import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_PREPROCESS_MODE,
    DEFAULT_TIMEOUT,
    DEFAULT_VISION_CACHE_MB,
    PROFILE_DEFAULT_NOTE,
    SHIPPED_NAMES,
    MaxRetriesOption,
    PreprocessOption,
    TimeoutOption,
    VisionCacheOption,
    check_pixels,
    choose_backend,
    env_help,
    parse_env_kwargs,
    profile_help,
    writable_folder,
)
from vlagent.agent.commands.generate import BackendKind
from vlagent.agent.commands.safety_options import (
    STOP_HOTKEY_HELP,
    ConfirmChoice,
    armed_stop_hotkey,
    build_safety,
)
from vlagent.agent.safety import DEFAULT_STOP_HOTKEY

DEFAULT_ENV = "synthetic:login"


def _terminal_ask(question: str) -> str:
    try:
        return typer.prompt(f"the agent asks: {question}\nyour answer")
    except typer.Abort:
        raise KeyboardInterrupt from None


@app.command()
def run(
    env: Annotated[
        str,
        typer.Option(help=env_help("Env spec: ")),
    ] = DEFAULT_ENV,
    task: Annotated[
        str, typer.Option(help="What to do, in words. Empty: the env's own task (synthetic apps, games, MiniWoB++).")
    ] = "",
    env_kwargs: Annotated[
        str | None, typer.Option(help='JSON keyword arguments for the env, e.g. \'{"size": "phone"}\'.')
    ] = None,
    backend: Annotated[
        BackendKind | None, typer.Option(help="transformers (local), openai (vLLM server) or python (module:attr).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help=f"Hub id or folder, or {SHIPPED_NAMES} (transformers), served name (openai) or "
                     "module:attr (python)."),
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help=profile_help("Prompt format + parser + coordinates: ") + PROFILE_DEFAULT_NOTE)
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="openai: the server's /v1 URL.")] = None,
    min_pixels: Annotated[
        int | None, typer.Option(min=1, help="Smallest resized screenshot area (default: the profile's).")
    ] = None,
    max_pixels: Annotated[
        int | None,
        typer.Option(min=1, help="Largest resized screenshot area: the visual-token budget (~784 px a token)."),
    ] = None,
    device: Annotated[str, typer.Option(help="transformers: auto, cpu, cuda or cuda:N.")] = "auto",
    dtype: Annotated[str | None, typer.Option(help="transformers: bf16, fp16 or fp32.")] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Most tokens per reply.")] = 256,
    max_steps: Annotated[int, typer.Option(min=1, help="Most model calls in the episode (retries included).")] = 30,
    time_limit: Annotated[
        float | None,
        typer.Option(min=0.001, help="Wall-clock seconds for the episode; past it, it ends after the step (time_limit)."),
    ] = None,
    max_reply_errors: Annotated[
        int, typer.Option(min=0, help="Unexecutable replies in a row fed back before giving up.")
    ] = 2,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    max_retries: MaxRetriesOption = DEFAULT_MAX_RETRIES,
    preprocess: PreprocessOption = DEFAULT_PREPROCESS_MODE,
    vision_cache_mb: VisionCacheOption = DEFAULT_VISION_CACHE_MB,
    history_images: Annotated[
        int | None,
        typer.Option(min=1, help="Screenshots per prompt, the current one included (default: the model card's, else 2)."),
    ] = None,
    video_frames: Annotated[
        int,
        typer.Option(min=0, help="Send the last N frames up to now as a video before the current screenshot "
                     "(games, the robot: motion); replaces the history screenshots. 0: no video."),
    ] = 0,
    video_fps: Annotated[
        float | None,
        typer.Option(min=0.001, help="With --video-frames: sample the clip at this rate (frames a second) "
                     "instead of one frame per step."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for the env's reset (synthetic apps, games).")] = None,
    out: Annotated[Path, typer.Option(help="Where trajectories go (a new folder per episode).")] = Path("runs"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Parse, convert and record; execute nothing.")] = False,
    confirm: Annotated[
        ConfirmChoice, typer.Option(help="Ask before executing: never, all actions, or sensitive ones.")
    ] = ConfirmChoice.never,
    sensitive: Annotated[
        list[str] | None,
        typer.Option("--sensitive", metavar="TYPE", help="Extra action type that --confirm sensitive asks about (repeatable)."),
    ] = None,
    deny_hotkey: Annotated[
        list[str] | None,
        typer.Option("--deny-hotkey", metavar="KEYS", help="Key combination never sent, e.g. ctrl+w (repeatable; adds to the defaults)."),
    ] = None,
    stop_hotkey: Annotated[str, typer.Option(help=STOP_HOTKEY_HELP)] = DEFAULT_STOP_HOTKEY,
    interactive: Annotated[
        bool | None,
        typer.Option(help="Answer the model's call_user on this terminal (default: when stdin is a terminal)."),
    ] = None,
    report: Annotated[bool, typer.Option(help="Write index.html next to the trajectory.")] = True,
    secret: Annotated[
        list[str] | None,
        typer.Option("--secret", metavar="NAME=VALUE",
                     help="A value the model sees only as <secret>NAME</secret> and the records never hold "
                     "(repeatable; also VLAGENT_SECRET_NAME variables)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No banner or notes: only the result lines.")] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON line (trajectory, report, outcome, ...) instead.")
    ] = False,
) -> None:
    r"""Run one episode: screenshot -> model -> action -> execute, recorded step by step.

    Without --backend/--model it runs the built-in demo: the synthetic login app driven by the scripted
    oracle (not a model), printing how to run a real Qwen2-VL. Exits 0 whenever the episode ends,
    whatever its outcome; prints the trajectory folder, the report and the outcome.

    Try:

      vlagent run   (the scripted demo on synthetic:login)

      vlagent run --env synthetic:settings --env-kwargs '{"size": "phone"}' \
          --profile ui-tars

      vlagent run --env desktop --task "Open the calculator" \
          --backend openai --model Qwen/Qwen2-VL-7B-Instruct \
          --base-url http://localhost:8000/v1 --confirm sensitive

      vlagent run --secret pw=... \
          --task "Sign in as 'ann' with password '<secret>pw</secret>'"
    """
    from vlagent.agent.loop import Agent, TrajectoryStore
    from vlagent.agent.report import write_report
    from vlagent.agent.safety import StopFlag
    from vlagent.agent.secrets import activate, parse_secrets
    from vlagent.envs.registry import EnvSpec, kinds, make_env
    from vlagent.model import GenerationOptions
    from vlagent.prompts import get_profile

    secrets = parse_secrets(secret or ())
    activate(secrets)  # the CLI's error line is masked too
    choice = choose_backend(
        backend, model, base_url=base_url, min_pixels=min_pixels, max_pixels=max_pixels, device=device, dtype=dtype,
        timeout=timeout, max_retries=max_retries, preprocess=preprocess, vision_cache_mb=vision_cache_mb,
        profile=profile, history_images=history_images,
    )
    min_pixels, max_pixels, history_images = choice.min_pixels, choice.max_pixels, choice.history_images
    chosen_profile = get_profile(choice.profile)
    check_pixels(chosen_profile, min_pixels, max_pixels)
    if video_frames == 1:
        raise typer.BadParameter("a video needs at least 2 frames (0 turns it off)", param_hint="--video-frames")
    if video_fps is not None and not video_frames:
        raise typer.BadParameter("--video-fps samples the clip of --video-frames N; give both", param_hint="--video-fps")
    kwargs = parse_env_kwargs(env_kwargs)
    writable_folder(out)
    kind = EnvSpec.parse(env).kind
    if not task.strip() and not kinds()[kind].own_task:
        # A real screen has no task of its own: a model given none would act on the user's machine at random.
        raise typer.BadParameter(f"the {kind} env has no task of its own; say what to do with --task", param_hint="--task")
    is_tty = sys.stdin.isatty()
    interactive = is_tty if interactive is None else interactive
    safety = build_safety(dry_run=dry_run, confirm=confirm, sensitive=sensitive, deny_hotkey=deny_hotkey,
                          stop_hotkey=stop_hotkey, interactive=interactive)
    stop = StopFlag()
    banner = choice.banner()
    if banner and not quiet:
        typer.echo(banner, err=True)
    # The env first: a typo in --env should not wait for a 7B model to load.
    environment = make_env(env, **kwargs)
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in env)
    episode_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{uuid.uuid4().hex[:4]}"
    try:
        runner = choice.build()
        agent = Agent(
            runner,
            chosen_profile,
            environment,
            max_steps=max_steps,
            time_limit=time_limit,
            max_retries=max_reply_errors,
            history_images=history_images,
            video_frames=video_frames,
            video_fps=video_fps,
            safety=safety,
            ask=_terminal_ask if interactive else None,
            gen_options=GenerationOptions(max_new_tokens=max_new_tokens),
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            recorder=TrajectoryStore(out),
            env_spec=env,
            env_kwargs=kwargs,
            stop=stop,
            secrets=secrets,
        )
        try:
            with armed_stop_hotkey(environment, stop_hotkey, stop, dry_run=dry_run):
                result = agent.run(task, seed=seed, episode_id=episode_id)
        except KeyboardInterrupt:  # a second Ctrl+C: the trajectory was closed on the way out
            typer.echo(f"interrupted; trajectory: {Path(out) / episode_id}", err=True)
            raise typer.Exit(130) from None
        except VlagentError:  # model or env failure: the loop closed the folder; say where it is, then the error
            if (Path(out) / episode_id).is_dir():
                typer.echo(f"trajectory (ended by the error below): {Path(out) / episode_id}", err=True)
            raise
    finally:
        environment.close()
    meta = result.meta
    page = write_report(result.path) if report and result.path is not None else None
    if json_out:
        summary = {
            "trajectory": str(result.path) if result.path else None, "report": str(page) if page else None,
            "episode_id": meta.episode_id, "env": meta.env, "seed": meta.seed, "outcome": meta.outcome,
            "success": meta.success, "steps": meta.steps, "reward": meta.total_reward, "errors": meta.errors,
            "answer": meta.answer, "scripted": choice.scripted_default, "dry_run": dry_run,
        }
        typer.echo(secrets.mask(json.dumps(summary)))
        return
    typer.echo(f"trajectory: {result.path}")
    if page is not None:
        typer.echo(f"report:     {page}")
    success = {True: "success", False: "no success", None: "success not reported by the env"}[meta.success]
    typer.echo(f"outcome:    {meta.outcome} ({success}) after {meta.steps} step(s), reward {meta.total_reward:g}"
               + (f", {meta.errors} unexecutable repl{'y' if meta.errors == 1 else 'ies'}" if meta.errors else ""))
    if meta.outcome == "interrupted" and stop.by:
        typer.echo(f"(stopped by {stop.by}, after the running action)")
    if quiet:
        return
    if choice.scripted_default:
        typer.echo("(driven by the scripted oracle, not a model)")
    if dry_run:  # else a dry run's usual "loop" outcome reads like a fault
        why = "; the screen did not change, so the repeated action ended it as 'loop'" if meta.outcome == "loop" else ""
        typer.echo(f"(dry run: nothing was executed{why})")

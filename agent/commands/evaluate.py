"""``vlagent eval``: a suite of episodes, several at a time, model calls batched, resumable."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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
    profile_help,
    writable_folder,
)
from vlagent.agent.commands.generate import BackendKind

if TYPE_CHECKING:
    from vlagent.agent.evaluate import EvalResults

#: Exit status after Ctrl+C (128 + SIGINT), as shells report an interrupted command.
EXIT_INTERRUPTED = 130


def default_out(suite: str, model: str, profile: str) -> Path:
    """``runs/eval-SUITE-MODEL-PROFILE``: another model or profile gets a folder of its own.

    The model is named by its last path part (a hub id's name, a folder's name, a ``module:attr``'s attr).

    Example:
        >>> default_out("gym,synthetic:login", "Qwen/Qwen2-VL-7B-Instruct", "qwen2-vl").as_posix()
        'runs/eval-gym+synthetic_login-Qwen2-VL-7B-Instruct-qwen2-vl'
    """
    from vlagent.agent.suites import suite_slug

    model_name = Path(model.rstrip("/")).name.rsplit(":", 1)[-1] or "model"
    name = re.sub(r"[^A-Za-z0-9._+-]+", "_", f"eval-{suite_slug(suite)}-{model_name}-{profile}")
    if len(name) > 100:  # a long --suite list: keep the name readable and still distinct
        name = f"{name[:90]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return Path("runs") / name


@app.command("eval")
def eval_(
    suite: Annotated[
        str,
        typer.Option(help="Suite names (synthetic, gym, miniwob), env specs (gym:ALE/Pong-v5) or suite files "
                     "(PATH.toml), comma-separated."),
    ] = "synthetic",
    episodes: Annotated[
        int | None,
        typer.Option(min=1, help="Episodes per suite name or env spec (default: one per env combination; more "
                     "cycle seeds); a suite file's first N."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Episodes alive at once; their model calls share one batch.")] = 4,
    backend: Annotated[BackendKind | None, typer.Option(help="transformers, openai or python.")] = None,
    model: Annotated[
        str | None, typer.Option(help=f"Hub id/folder or {SHIPPED_NAMES}, served name, or module:attr.")
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help=profile_help("Model profile: ") + PROFILE_DEFAULT_NOTE)
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="openai: the server's /v1 URL.")] = None,
    min_pixels: Annotated[int | None, typer.Option(min=1, help="Smallest resized screenshot area.")] = None,
    max_pixels: Annotated[
        int | None, typer.Option(min=1, help="Largest resized screenshot area (visual-token budget).")
    ] = None,
    device: Annotated[str, typer.Option(help="transformers: auto, cpu, cuda or cuda:N.")] = "auto",
    dtype: Annotated[str | None, typer.Option(help="transformers: bf16, fp16 or fp32.")] = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    max_retries: MaxRetriesOption = DEFAULT_MAX_RETRIES,
    preprocess: PreprocessOption = DEFAULT_PREPROCESS_MODE,
    vision_cache_mb: VisionCacheOption = DEFAULT_VISION_CACHE_MB,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Most tokens per reply.")] = 256,
    max_steps: Annotated[
        int | None, typer.Option(min=1, help="Most model calls per episode (default: the suite's, else 30).")
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(min=0.001, help="Wall-clock seconds per episode; an episode out of time is a failure (time_limit)."),
    ] = None,
    history_images: Annotated[
        int | None,
        typer.Option(min=1, help="Screenshots per prompt, the current one included (default: the model card's, else 2)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="First seed of a suite name's or env spec's cycle.")] = 0,
    out: Annotated[
        Path | None,
        typer.Option(help="Results folder (default runs/eval-SUITE-MODEL-PROFILE); rerun with the same options "
                     "to resume."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No banner and no progress bar: only the result lines.")
    ] = False,
) -> None:
    r"""Evaluate a model (or, by default, the scripted oracle) on a suite; writes results.json and index.html.

    A rerun with the same --out and options skips the episodes that already finished; with other options
    (model, profile, pixel budget, history images, step limits, episodes, --preprocess device) it refuses. Ctrl+C stops after the
    current step, writes the results of what ran and exits 130.

    Try:

      vlagent eval --suite synthetic --profile ui-tars   (the oracle on every app)

      vlagent eval --episodes 3 \
          --suite gym:ALE/Pong-v5,miniwob:click-dialog,synthetic:login

      vlagent eval --suite miniwob --episodes 20 --workers 8 --backend openai \
          --model Qwen/Qwen2-VL-7B-Instruct --base-url http://localhost:8000/v1
    """
    from vlagent.agent.evaluate import evaluate
    from vlagent.agent.suites import build_suites
    from vlagent.model import GenerationOptions
    from vlagent.prompts import get_profile

    choice = choose_backend(
        backend, model, base_url=base_url, min_pixels=min_pixels, max_pixels=max_pixels, device=device, dtype=dtype,
        timeout=timeout, max_retries=max_retries, preprocess=preprocess, vision_cache_mb=vision_cache_mb,
        profile=profile, history_images=history_images,
    )
    min_pixels, max_pixels, history_images = choice.min_pixels, choice.max_pixels, choice.history_images
    chosen = get_profile(choice.profile)
    check_pixels(chosen, min_pixels, max_pixels)
    specs = build_suites(suite, episodes, seed=seed)
    out = writable_folder(out or default_out(suite, choice.model_name, chosen.name))
    banner = choice.banner()
    if banner and not quiet:
        typer.echo(banner, err=True)
    limits = {} if max_steps is None else {"max_steps": max_steps}
    results = evaluate(
        specs,
        backend=choice.build(),
        profile=chosen.name,
        out=out,
        workers=workers,
        progress=progress and not quiet,
        config={"suite": suite, "workers": workers},
        time_limit=time_limit,
        history_images=history_images,
        gen_options=GenerationOptions(max_new_tokens=max_new_tokens),
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        **limits,
    )
    typer.echo(_counts_line(results))
    for row in results.suites:
        left_out = f"  ({row.interrupted} interrupted, left out)" if row.interrupted else ""
        typer.echo(
            f"{row.suite:10s} success {row.successes}/{row.episodes} ({row.success_rate:.1%})  "
            f"mean steps {row.mean_steps:.2f}  mean step {row.mean_step_seconds * 1000:.1f} ms  "
            f"parse errors {row.parse_error_rate:.1%}{left_out}"
        )
    typer.echo(f"results: {out / 'results.json'}")
    typer.echo(f"report:  {out / 'index.html'}")
    if results.stopped:
        typer.echo("interrupted: rerun the same command to finish the remaining episodes", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)


def _counts_line(r: EvalResults) -> str:
    """``ran 12 episode(s) (4 interrupted, ...), 24 not started, skipped 0 already finished, 3.1s, ...``."""
    interrupted = f" ({r.interrupted} interrupted, left out of the rates)" if r.interrupted else ""
    not_started = f", {r.not_started} not started" if r.not_started else ""
    return (f"ran {r.ran} episode(s){interrupted}{not_started}, skipped {r.skipped} already finished, "
            f"{r.seconds:.1f}s, {r.steps_per_second:.1f} steps/s")

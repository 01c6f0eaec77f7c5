"""``vlagent eval``: a suite of episodes, several at a time, model calls batched, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vlagent.agent.cli import app
from vlagent.agent.commands.agent_options import (
    DEFAULT_PROFILE,
    SCRIPTED_BANNER,
    check_pixels,
    choose_backend,
    writable_folder,
)
from vlagent.agent.commands.generate import BackendKind


@app.command("eval")
def eval_(
    suite: Annotated[
        str, typer.Option(help="synthetic, gym or miniwob (comma-separated for several).")
    ] = "synthetic",
    episodes: Annotated[
        int | None, typer.Option(min=1, help="Episodes per suite (default: one per env combination; more cycle seeds).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Episodes alive at once; their model calls share one batch.")] = 4,
    backend: Annotated[BackendKind | None, typer.Option(help="transformers, openai or python.")] = None,
    model: Annotated[str | None, typer.Option(help="Hub id/folder, served name, or module:attr.")] = None,
    profile: Annotated[str, typer.Option(help="qwen2-vl, qwen2.5-vl, ui-tars, ui-tars-1.5, showui or json.")] = DEFAULT_PROFILE,
    base_url: Annotated[str | None, typer.Option(help="openai: the server's /v1 URL.")] = None,
    min_pixels: Annotated[int | None, typer.Option(min=1, help="Smallest resized screenshot area.")] = None,
    max_pixels: Annotated[
        int | None, typer.Option(min=1, help="Largest resized screenshot area (visual-token budget).")
    ] = None,
    device: Annotated[str, typer.Option(help="transformers: auto, cpu, cuda or cuda:N.")] = "auto",
    dtype: Annotated[str | None, typer.Option(help="transformers: bf16, fp16 or fp32.")] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Most tokens per reply.")] = 256,
    max_steps: Annotated[int, typer.Option(min=1, help="Most model calls per episode.")] = 30,
    history_images: Annotated[int, typer.Option(min=1, help="Screenshots per prompt, the current one included.")] = 2,
    seed: Annotated[int, typer.Option(help="First seed of the suite's cycle.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Results folder (default runs/eval-SUITE-PROFILE); rerun to resume.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No banner and no progress bar: only the result lines.")
    ] = False,
) -> None:
    r"""Evaluate a model (or, by default, the scripted oracle) on a suite; writes results.json and index.html.

    A rerun with the same --out skips the episodes that already finished.

    Try:

      vlagent eval --suite synthetic --profile ui-tars   (the oracle on every app)

      vlagent eval --suite miniwob --episodes 20 --workers 8 --backend openai \
          --model Qwen/Qwen2-VL-7B-Instruct --base-url http://localhost:8000/v1
    """
    from vlagent.agent.evaluate import build_suites, evaluate
    from vlagent.model import GenerationOptions
    from vlagent.prompts import get_profile

    chosen = get_profile(profile)
    check_pixels(chosen, min_pixels, max_pixels)
    choice = choose_backend(
        backend, model, base_url=base_url, min_pixels=min_pixels, max_pixels=max_pixels, device=device, dtype=dtype
    )
    specs = build_suites(suite, episodes, seed=seed)
    out = writable_folder(out or Path("runs") / f"eval-{suite.replace(',', '+')}-{chosen.name}")
    if choice.scripted_default and not quiet:
        typer.echo(SCRIPTED_BANNER.format(profile=chosen.name), err=True)
    results = evaluate(
        specs,
        backend=choice.build(),
        profile=chosen.name,
        out=out,
        workers=workers,
        progress=progress and not quiet,
        config={"suite": suite, "backend": choice.kind, "model": choice.model, "profile": chosen.name,
                "workers": workers, "max_steps": max_steps, "history_images": history_images,
                "max_new_tokens": max_new_tokens, "min_pixels": min_pixels, "max_pixels": max_pixels},
        max_steps=max_steps,
        history_images=history_images,
        gen_options=GenerationOptions(max_new_tokens=max_new_tokens),
        min_pixels=min_pixels,
        max_pixels=max_pixels,
    )
    typer.echo(f"ran {results.ran} episode(s), skipped {results.skipped} already finished, "
               f"{results.seconds:.1f}s, {results.steps_per_second:.1f} steps/s")
    for row in results.suites:
        typer.echo(
            f"{row.suite:10s} success {row.successes}/{row.episodes} ({row.success_rate:.1%})  "
            f"mean steps {row.mean_steps:.2f}  mean step {row.mean_step_seconds * 1000:.1f} ms  "
            f"parse errors {row.parse_error_rate:.1%}"
        )
    typer.echo(f"results: {out / 'results.json'}")
    typer.echo(f"report:  {out / 'index.html'}")

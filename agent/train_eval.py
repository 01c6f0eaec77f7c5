"""The trainer's eval hook: the current model through ``vlagent eval`` on held-out synthetic seeds.

Every ``--eval-every`` steps the trainer exports the model (a folder the transformers backend loads, the
same one a user would get) and this hook runs the evaluation code behind ``vlagent eval`` on it, on seeds
from :data:`~vlagent.agent.training_data.HELDOUT_SEED` up, which no training sample comes from. The
figures go into the training log next to the loss, so "the loss fell" and "the agent finishes its tasks"
can be read side by side.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vlagent.agent.training_data import HELDOUT_SEED


def heldout_specs(episodes: int, *, apps: Sequence[str], sizes: Sequence[Any]) -> list[Any]:
    """``episodes`` specs cycling apps x sizes, seeds from :data:`HELDOUT_SEED`.

    Example:
        >>> [s.episode_id for s in heldout_specs(3, apps=["dialog", "login"], sizes=["desktop"])]
        ['heldout-dialog-desktop-s10000', 'heldout-login-desktop-s10000', 'heldout-dialog-desktop-s10001']
    """
    from vlagent.agent.evaluate import EpisodeSpec

    combos = [(app, size) for size in sizes for app in apps]
    return [
        EpisodeSpec("heldout", f"synthetic:{combos[k % len(combos)][0]}", {"size": combos[k % len(combos)][1]},
                    "", HELDOUT_SEED + k // len(combos))
        for k in range(episodes)
    ]


def heldout_eval_hook(
    out: Path,
    *,
    profile: str,
    episodes: int,
    apps: Sequence[str],
    sizes: Sequence[Any],
    max_steps: int = 15,
    history_images: int = 2,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    device: str = "auto",
    keep_models: bool = False,
) -> Callable[[int, Callable[[Path], Path]], dict[str, Any]]:
    """A hook for :class:`~vlagent.model.training.Trainer` that evaluates under ``out/evals/step-N``."""

    def hook(step: int, export: Callable[[Path], Path]) -> dict[str, Any]:
        from vlagent.agent.evaluate import evaluate
        from vlagent.model.chat import GenerationOptions
        from vlagent.model.transformers_backend import TransformersBackend

        folder = Path(out) / "evals" / f"step-{step:06d}"
        model_dir = export(folder / "model")
        backend = TransformersBackend(model_dir, device=device, min_pixels=min_pixels, max_pixels=max_pixels)
        results = evaluate(
            heldout_specs(episodes, apps=apps, sizes=sizes), backend=backend, profile=profile,
            out=folder / "eval", workers=min(episodes, 8), progress=False, report=False,
            config={"step": step, "profile": profile}, max_steps=max_steps, history_images=history_images,
            gen_options=GenerationOptions(max_new_tokens=64), min_pixels=min_pixels, max_pixels=max_pixels,
        )
        if not keep_models:
            shutil.rmtree(model_dir, ignore_errors=True)
        successes = sum(r.successes for r in results.suites)
        total = sum(r.episodes for r in results.suites)
        parse_errors = sum(e.parse_errors for e in results.episodes)
        return {"successes": successes, "episodes": total, "success_rate": successes / max(total, 1),
                "parse_errors": parse_errors, "results": str(folder / "eval" / "results.json")}

    return hook

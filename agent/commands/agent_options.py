"""What ``vlagent run`` and ``vlagent eval`` share: the backend/profile options and the default policy.

With no ``--backend``/``--model`` both commands run the scripted oracle (a Python backend that reads the
env's ground truth), so they work on a fresh CPU-only machine; the banner says so and how to run a real
Qwen2-VL instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vlagent.model.catalog import SHIPPED_MODELS, ModelCard, model_card, resolve_model
from vlagent.model.openai_backend import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from vlagent.model.transformers_backend import (
    DEFAULT_PREPROCESS,
    DEFAULT_VISION_CACHE_MB,
    PREPROCESS_MODES,
)

if TYPE_CHECKING:  # generate.py imports the shared options below, so its BackendKind is imported late
    from vlagent.agent.commands.generate import BackendKind

DEFAULT_PROFILE = "qwen2-vl"
#: Appended to the --profile help of the commands that take a model card's profile.
PROFILE_DEFAULT_NOTE = f" Default: the model card's (vlagent.json), else {DEFAULT_PROFILE}."
SCRIPTED_SPEC = "vlagent.agent.scripted:oracle_policy"

SCRIPTED_BANNER = f"""\
NOTE: no --backend/--model given, so this runs the SCRIPTED ORACLE ({SCRIPTED_SPEC}),
      not a model: it reads the environment's ground truth and writes its reply in the
      '{{profile}}' profile's format, so the whole pipeline (prompt, reply text, parsing,
      coordinate conversion, execution, recording) runs for real without weights. Where the env
      has no ground truth it picks a random named action (gym games) or replies finished()
      (a desktop or phone).
To run a real Qwen2-VL:
  hf download Qwen/Qwen2-VL-7B-Instruct --local-dir ~/models/Qwen2-VL-7B-Instruct
  vlagent run --env synthetic:login --backend transformers --model ~/models/Qwen2-VL-7B-Instruct \\
      --profile qwen2-vl --max-pixels 1003520
  (GPU memory in bf16: about 17 GB for 7B, about 5 GB for Qwen/Qwen2-VL-2B-Instruct, plus the images)
or serve it with vLLM and use the OpenAI-compatible backend:
  vllm serve Qwen/Qwen2-VL-7B-Instruct --port 8000 --limit-mm-per-prompt '{{{{"image": 2}}}}'
  vlagent run --env synthetic:login --backend openai --model Qwen/Qwen2-VL-7B-Instruct \\
      --base-url http://localhost:8000/v1 --profile qwen2-vl
"""


#: ``--timeout``: one wall-clock deadline per model call, retries included (the OpenAI backend's ``timeout``).
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="openai: seconds a model call may take in all, retries and reads included.")
]
#: ``--max-retries``: the OpenAI backend's extra attempts, all inside the ``--timeout`` deadline.
MaxRetriesOption = Annotated[
    int, typer.Option("--max-retries", min=0, help="openai: retries on connection errors, timeouts, 429 and 5xx.")
]

#: The modes ``--preprocess`` accepts: the transformers backend's own PREPROCESS_MODES, so they cannot drift.
PreprocessMode = StrEnum("PreprocessMode", [(mode, mode) for mode in PREPROCESS_MODES])  # type: ignore[misc]
DEFAULT_PREPROCESS_MODE = PreprocessMode(DEFAULT_PREPROCESS)
#: ``--preprocess``: how the transformers backend turns screenshots into pixel values.
PreprocessOption = Annotated[
    PreprocessMode,
    typer.Option(
        "--preprocess",
        help="transformers: exact (host, bit-identical to the library's processor), device (resize on the GPU, "
        "a few 8-bit levels off), transformers (the library's processor) or auto (device on CUDA, else exact).",
    ),
]
#: ``--vision-cache-mb``: the transformers backend's cache of vision embeddings of screenshots seen before.
VisionCacheOption = Annotated[
    float,
    typer.Option("--vision-cache-mb", min=0.0,
                 help="transformers: MB of vision embeddings kept, so history screenshots are encoded once; 0: off."),
]


#: The shipped models' names, for --model's help.
SHIPPED_NAMES = " or ".join(SHIPPED_MODELS)
#: What runs when neither --backend nor --model is given: None is the scripted oracle, a shipped model's
#: name (model/catalog.py) runs that model instead.
DEFAULT_MODEL: str | None = None
#: Screenshots per prompt when neither the command line nor the model's card says.
DEFAULT_HISTORY_IMAGES = 2


@dataclass(frozen=True)
class BackendChoice:
    """The backend the options name, what it is asked with, and whether it is the default.

    ``profile``, ``min_pixels``, ``max_pixels`` and ``history_images`` are the command line's where given,
    else the model card's (:class:`~vlagent.model.catalog.ModelCard`), else the defaults (the pixel budget
    then stays None: the profile's).

    Example:
        >>> choose_backend(None, None).scripted_default
        True
    """

    kind: str
    model: str
    kwargs: dict[str, Any]
    scripted_default: bool
    profile: str = DEFAULT_PROFILE
    min_pixels: int | None = None
    max_pixels: int | None = None
    history_images: int = DEFAULT_HISTORY_IMAGES
    card: ModelCard | None = None
    #: True when no --backend/--model was given (the oracle, or :data:`DEFAULT_MODEL`).
    default: bool = False

    def build(self) -> Any:
        from vlagent.model import make_backend

        return make_backend(self.kind, self.model, **self.kwargs)

    def banner(self) -> str | None:
        """What to tell the user before the run: the oracle's note, or which model runs and what it is."""
        if self.scripted_default:
            return SCRIPTED_BANNER.format(profile=self.profile)
        if self.card is not None and self.card.about:
            lead = "NOTE: no --backend/--model given, so this runs" if self.default else "model:"
            return f"{lead} {self.model_name}: {self.card.about}"
        return None

    @property
    def model_name(self) -> str:
        """The model as the user named it (a shipped model's name rather than its folder)."""
        return next((name for name, folder in SHIPPED_MODELS.items() if str(folder) == self.model), self.model)


def choose_backend(
    backend: BackendKind | None,
    model: str | None,
    *,
    base_url: str | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    device: str = "auto",
    dtype: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_retries: int = DEFAULT_MAX_RETRIES,
    preprocess: str = DEFAULT_PREPROCESS,
    vision_cache_mb: float = DEFAULT_VISION_CACHE_MB,
    profile: str | None = None,
    history_images: int | None = None,
) -> BackendChoice:
    """Resolve the CLI's backend options; neither given means :data:`DEFAULT_MODEL` (the scripted oracle).

    A transformers model with a card (a shipped name, or a folder ``vlagent train`` exported) fills in the
    profile, pixel budget and screenshots per prompt the command line left out.
    """
    default = backend is None and model is None
    if default and DEFAULT_MODEL is None:
        return BackendChoice("python", SCRIPTED_SPEC, {}, True, profile=profile or DEFAULT_PROFILE,
                             min_pixels=min_pixels, max_pixels=max_pixels,
                             history_images=history_images or DEFAULT_HISTORY_IMAGES, default=True)
    if default:
        model = DEFAULT_MODEL
    if model is None:
        raise typer.BadParameter("--model is needed with --backend (a hub id, a folder, a served name or module:attr)")
    kind = backend.value if backend is not None else "transformers"
    card = None
    if kind == "transformers":
        model = resolve_model(model)
        card = model_card(model)
    filled = card or ModelCard()
    min_pixels = min_pixels if min_pixels is not None else filled.min_pixels
    max_pixels = max_pixels if max_pixels is not None else filled.max_pixels
    kwargs: dict[str, Any] = {}
    if kind == "transformers":
        kwargs = {"device": device, "dtype": dtype, "min_pixels": min_pixels, "max_pixels": max_pixels,
                  **transformers_host_kwargs(preprocess, vision_cache_mb)}
    elif kind == "openai":
        kwargs = {"base_url": base_url, "min_pixels": min_pixels, "max_pixels": max_pixels, "timeout": timeout,
                  "max_retries": max_retries}
    return BackendChoice(
        kind, model, kwargs, kind == "python" and model == SCRIPTED_SPEC,
        profile=profile or filled.profile or DEFAULT_PROFILE, min_pixels=min_pixels, max_pixels=max_pixels,
        history_images=history_images or filled.history_images or DEFAULT_HISTORY_IMAGES, card=card, default=default,
    )


def transformers_host_kwargs(preprocess: str, vision_cache_mb: float) -> dict[str, Any]:
    """The transformers backend's host-work keywords from ``--preprocess``/``--vision-cache-mb`` (one spelling).

    Example:
        >>> transformers_host_kwargs("exact", 0)
        {'preprocess': 'exact', 'vision_cache_mb': 0}
    """
    return {"preprocess": str(preprocess), "vision_cache_mb": vision_cache_mb}


def profile_help(lead: str) -> str:
    """``--profile`` help naming every registered profile, plugins' included (so ``--help`` lists them too).

    Example:
        >>> profile_help("Model profile: ").startswith("Model profile: json, qwen2-vl")
        True
    """
    from vlagent.prompts.profiles import profile_names

    return f"{lead}{', '.join(profile_names())}."


def env_help(lead: str) -> str:
    """``--env`` help naming every registered env kind's spec pattern, plugins' included.

    Example:
        >>> env_help("Env: ").startswith("Env: desktop, android[:SERIAL], gym:ENV_ID")
        True
    """
    from vlagent.envs.registry import kinds

    return f"{lead}{', '.join(k.pattern for k in kinds().values())} (see `vlagent envs`)."


def check_pixels(profile: Any, min_pixels: int | None, max_pixels: int | None) -> None:
    """Refuse ``--max-pixels`` below ``--min-pixels`` (either defaulting to the profile's) before any work."""
    lo = profile.min_pixels if min_pixels is None else min_pixels
    hi = profile.max_pixels if max_pixels is None else max_pixels
    if hi < lo:
        raise typer.BadParameter(f"max_pixels ({hi}) is below min_pixels ({lo})", param_hint="--max-pixels")


def writable_folder(path: Path, option: str = "--out") -> Path:
    """Create ``path`` (and its parents) now, so a bad folder is a usage error before any episode runs."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = "a file is in the way" if path.is_file() else exc.strerror or str(exc)
        raise typer.BadParameter(f"cannot use {str(path)!r} as a folder: {why}", param_hint=option) from exc
    return path


class _NotFinite(ValueError):
    """A number in --env-kwargs that is infinite or NaN (the literal text rides as the message)."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _no_constant(text: str) -> float:
    raise _NotFinite(text)


def parse_env_kwargs(text: str | None) -> dict[str, Any]:
    """``--env-kwargs '{"size": "phone"}'`` as a dict."""
    import json

    if not text:
        return {}
    try:
        value = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--env-kwargs is not JSON: {exc}") from exc
    except _NotFinite as exc:  # 1e999 parses as inf and NaN as nan; no env takes them, and ints overflow on them
        raise typer.BadParameter(f"--env-kwargs: {exc} is not a finite number") from exc
    if not isinstance(value, dict):
        raise typer.BadParameter("--env-kwargs must be a JSON object, e.g. '{\"size\": \"phone\"}'")
    return value

"""``vlagent generate`` and ``vlagent tiny-model``: the model path from the command line.

``generate`` sends one prompt (and screenshots) through any backend and prints the figures to tune by;
``tiny-model`` writes the random-weight Qwen2-VL the tests use, for demos without downloads.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from vlagent.agent.cli import app
from vlagent.agent.commands.agent_options import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_PREPROCESS_MODE,
    DEFAULT_TIMEOUT,
    DEFAULT_VISION_CACHE_MB,
    MaxRetriesOption,
    PreprocessOption,
    TimeoutOption,
    VisionCacheOption,
    transformers_host_kwargs,
)


class BackendKind(StrEnum):
    """The backends ``--backend`` accepts.

    Example:
        >>> BackendKind("openai").value
        'openai'
    """

    transformers = "transformers"
    openai = "openai"
    python = "python"


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="The user text, after the images.")],
    model: Annotated[
        str,
        typer.Option(help="transformers: hub id or folder; openai: served model name; python: module:attr."),
    ],
    backend: Annotated[
        BackendKind, typer.Option(help="Which backend runs the model.")
    ] = BackendKind.transformers,
    image: Annotated[
        list[Path] | None, typer.Option("--image", help="A screenshot sent before the prompt (repeatable).")
    ] = None,
    video: Annotated[
        list[Path] | None,
        typer.Option("--video", metavar="FRAME",
                     help="A frame of one video sent before the images (repeatable: the frames in order)."),
    ] = None,
    video_fps: Annotated[
        float, typer.Option(min=0.001, help="The --video frames' rate, for their timestamps.")
    ] = 2.0,
    system: Annotated[
        str | None, typer.Option(help="System prompt (the template's default if omitted).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="openai: the server's /v1 URL, e.g. http://localhost:8000/v1.")
    ] = None,
    min_pixels: Annotated[
        int | None, typer.Option(help="Smallest resized image area (default: the checkpoint's).")
    ] = None,
    max_pixels: Annotated[
        int | None,
        typer.Option(help="Largest resized image area, the visual-token budget (~784 px a token)."),
    ] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Most tokens to generate.")] = 256,
    temperature: Annotated[float, typer.Option(min=0.0, help="0 is greedy decoding.")] = 0.0,
    top_p: Annotated[
        float | None, typer.Option(help="Nucleus sampling mass (with --temperature > 0).")
    ] = None,
    stop: Annotated[
        list[str] | None, typer.Option("--stop", help="Stop at this string (repeatable; not included).")
    ] = None,
    device: Annotated[str, typer.Option(help="transformers: auto, cpu, cuda or cuda:N.")] = "auto",
    dtype: Annotated[
        str | None, typer.Option(help="transformers: bf16, fp16 or fp32 (default bf16 on CUDA, fp32 on CPU).")
    ] = None,
    attn: Annotated[str, typer.Option(help="transformers: sdpa, flash_attention_2 or eager.")] = "sdpa",
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    max_retries: MaxRetriesOption = DEFAULT_MAX_RETRIES,
    preprocess: PreprocessOption = DEFAULT_PREPROCESS_MODE,
    vision_cache_mb: VisionCacheOption = DEFAULT_VISION_CACHE_MB,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")] = False,
) -> None:
    """Send one prompt with screenshots to a model and print the reply and its token/time figures.

    The API key for --backend openai comes from VLAGENT_API_KEY or OPENAI_API_KEY.
    """
    from vlagent.model import Chat, GenerationOptions, make_backend
    from vlagent.model.chat import ImagePart, Message, TextPart, VideoPart
    from vlagent.model.images import open_image

    images = [open_image(p) for p in image or []]
    frames = tuple(open_image(p) for p in video or [])
    kw: dict[str, object] = {}
    if backend is BackendKind.transformers:
        kw = {"device": device, "dtype": dtype, "attn_implementation": attn}
        kw.update(min_pixels=min_pixels, max_pixels=max_pixels, **transformers_host_kwargs(preprocess, vision_cache_mb))
    elif backend is BackendKind.openai:
        kw = {"base_url": base_url, "timeout": timeout, "max_retries": max_retries}
        kw.update(min_pixels=min_pixels, max_pixels=max_pixels)
    runner = make_backend(backend.value, model, **kw)
    options = GenerationOptions(
        max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, stop=tuple(stop or ())
    )
    chat = Chat.simple(prompt, images, system=system)
    if frames:
        clip = VideoPart(frames, timestamps=tuple(i / video_fps for i in range(len(frames))))
        turn = Message("user", [clip, *(ImagePart(im) for im in images), TextPart(prompt)])
        chat = Chat([*chat.messages[:-1], turn])
    result = runner.generate([chat], options)[0]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "text": result.text,
                    "prompt_tokens": result.prompt_tokens,
                    "visual_tokens": result.visual_tokens,
                    "new_tokens": result.new_tokens,
                    "seconds": round(result.seconds, 6),
                },
                ensure_ascii=False,
            )
        )
        return
    typer.echo(result.text)
    typer.echo(
        f"-- prompt_tokens={result.prompt_tokens} visual_tokens={result.visual_tokens} "
        f"new_tokens={result.new_tokens} seconds={result.seconds:.3f} "
        f"(preprocess {result.preprocess_seconds:.3f}, generate {result.generate_seconds:.3f})",
        err=True,
    )


@app.command("tiny-model")
def tiny_model(
    folder: Annotated[Path, typer.Argument(help="Where to write the checkpoint (created if missing).")],
    seed: Annotated[int, typer.Option(help="Seeds the random weights.")] = 0,
) -> None:
    """Write a tiny Qwen2-VL with RANDOM weights (replies are gibberish): for tests and demos only.

    It has the real tokenizer special tokens, chat template and image preprocessing, so
    `vlagent generate --model FOLDER` exercises the whole local model path without any download.
    """
    from vlagent.agent.commands.agent_options import writable_folder
    from vlagent.model.tiny import build_tiny_qwen2vl

    out = build_tiny_qwen2vl(writable_folder(folder, "FOLDER"), seed=seed)
    typer.echo(str(out))

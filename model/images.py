"""Image input/output the backends share: opening files with a typed error, data URLs for HTTP."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from vlagent.model.errors import ModelLoadError


def open_image(path: str | Path) -> Image.Image:
    """Open an image file fully (decoded now, not lazily) as RGB, or raise :class:`ModelLoadError`.

    Example:
        >>> open_image("/nonexistent.png")
        Traceback (most recent call last):
        ...
        vlagent.model.errors.ModelLoadError: cannot read image '/nonexistent.png': file not found
    """
    p = Path(path)
    if not p.is_file():
        raise ModelLoadError(f"cannot read image {str(path)!r}: file not found")
    try:
        with Image.open(p) as im:
            im.load()
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read image {str(path)!r}: {exc}") from exc


def png_data_url(image: Image.Image) -> str:
    """Encode an image as a ``data:image/png;base64,...`` URL, the form OpenAI-compatible servers accept.

    Example:
        >>> png_data_url(Image.new("RGB", (2, 2))).startswith("data:image/png;base64,iVBOR")
        True
    """
    buf = io.BytesIO()
    try:
        image.save(buf, format="PNG")
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot encode image {image!r} as PNG: {exc}") from exc
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


#: JPEG quality of video frames sent over HTTP: vLLM decodes a frame list only as JPEG (see below).
VIDEO_JPEG_QUALITY = 95


def jpeg_frames_data_url(frames: Sequence[Image.Image], quality: int = VIDEO_JPEG_QUALITY) -> str:
    """A clip as vLLM's OpenAI-compatible server takes a list of frames: ``data:video/jpeg;base64,F1,F2,...``.

    vLLM reads a ``video_url`` whose media type is ``video/jpeg`` as base64 JPEG frames separated by
    commas (base64 has no comma, so the split is unambiguous), in order, with no container to decode.

    Example:
        >>> url = jpeg_frames_data_url([Image.new("RGB", (4, 4))] * 3)
        >>> url.startswith("data:video/jpeg;base64,/9j/"), len(url.split(",")) - 1
        (True, 3)
    """
    parts = []
    for frame in frames:
        buf = io.BytesIO()
        try:
            frame.convert("RGB").save(buf, format="JPEG", quality=quality)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot encode video frame {frame!r} as JPEG: {exc}") from exc
        parts.append(base64.b64encode(buf.getvalue()).decode("ascii"))
    return "data:video/jpeg;base64," + ",".join(parts)

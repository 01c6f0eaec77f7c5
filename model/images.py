"""Image input/output the backends share: opening files with a typed error, PNG data URLs for HTTP."""

from __future__ import annotations

import base64
import io
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

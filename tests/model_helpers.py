"""Plain helpers for the model tests (not fixtures): screenshot-like images, chat-completions bodies."""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageDraw


def draw_screenshot(width: int, height: int, *, title: str = "Settings") -> Image.Image:
    """A screenshot-like RGB image: title bar, a text field, buttons, list rows (not a flat colour)."""
    im = Image.new("RGB", (width, height), (236, 239, 244))
    d = ImageDraw.Draw(im)
    bar = max(24, height // 20)
    d.rectangle([0, 0, width, bar], fill=(45, 52, 64))
    d.text((10, bar // 4), title, fill=(255, 255, 255))
    d.rectangle([width // 10, bar * 2, width * 9 // 10, bar * 3], outline=(120, 120, 120), fill="white")
    d.text((width // 10 + 6, bar * 2 + 4), "Search", fill=(90, 90, 90))
    for i in range(6):
        y = bar * (4 + i)
        d.rectangle(
            [width // 10, y, width * 9 // 10, y + bar - 4], fill=(250, 250, 250) if i % 2 else (225, 230, 238)
        )
        d.text((width // 10 + 6, y + 4), f"Row {i}: option", fill=(20, 20, 20))
    bw, bh = max(60, width // 10), max(24, height // 24)
    d.rounded_rectangle(
        [width - 2 * bw - 40, height - bh - 20, width - bw - 40, height - 20], 6, fill=(52, 120, 246)
    )
    d.text((width - 2 * bw - 30, height - bh - 14), "OK", fill="white")
    d.rounded_rectangle(
        [width - bw - 20, height - bh - 20, width - 20, height - 20], 6, outline=(52, 120, 246)
    )
    d.text((width - bw - 10, height - bh - 14), "Cancel", fill=(52, 120, 246))
    return im


def completion(text: str, *, prompt_tokens: int = 11, completion_tokens: int = 3) -> dict[str, Any]:
    """A chat-completions reply body as vLLM sends it."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "served",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def app_screenshot(app: str, size: str | tuple[int, int]) -> Image.Image:
    """A screenshot of one of vlagent's built-in synthetic apps (``login``, ``settings``, ...) at a size
    (``"desktop"`` 1920x1080, ``"phone"`` 1080x2400, or ``(w, h)``): the screens the agent really sees."""
    from vlagent.envs.synthetic import make

    obs, _ = make(app, size=size).reset(seed=0)
    return obs.screenshot

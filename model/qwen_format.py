"""Facts about Qwen2-VL's text format that more than one module needs: special tokens, chat template.

Kept free of torch so the OpenAI backend and the tiny-model builder can share them cheaply.
"""

from __future__ import annotations

from vlagent.actions.coords import QWEN2_VL_FACTOR, QWEN2_VL_MAX_PIXELS, QWEN2_VL_MIN_PIXELS

#: The Qwen2-VL special tokens, in the order of the real checkpoints (ids 151643.. there).
QWEN2_VL_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

IMAGE_PAD = "<|image_pad|>"
VIDEO_PAD = "<|video_pad|>"
#: The tokens that stand for images and videos; in prompt text they can only be an accident (a model's
#: garbled reply fed back, a web page's text) and would make the processor look for pixels that are not there.
VISION_PLACEHOLDERS: tuple[str, ...] = ("<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", IMAGE_PAD, VIDEO_PAD)


def defuse_vision_tokens(text: str) -> str:
    """``text`` without image/video placeholder tokens, so only real images become visual tokens.

    Grounding tokens (``<|box_start|>`` and the like) are kept: earlier replies carry them on purpose.

    Example:
        >>> defuse_vision_tokens("Action: wait()<|video_pad|> <|box_start|>(1,2)<|box_end|>")
        'Action: wait() <|box_start|>(1,2)<|box_end|>'
    """
    for token in VISION_PLACEHOLDERS:
        if token in text:
            text = text.replace(token, "")
    return text

#: The pixel budget in preprocessor_config.json of the Qwen2-VL-*-Instruct checkpoints (and vLLM's default);
#: defined once, next to the coordinate conversion that depends on it.
QWEN2_VL_DEFAULT_MIN_PIXELS = QWEN2_VL_MIN_PIXELS
QWEN2_VL_DEFAULT_MAX_PIXELS = QWEN2_VL_MAX_PIXELS
#: Pixels on the side of one visual token: patch 14 merged 2x2 (the factor smart_resize rounds to).
QWEN2_VL_TOKEN_SIDE = QWEN2_VL_FACTOR

#: The chat template shipped with Qwen/Qwen2-VL-7B-Instruct and Qwen/Qwen2-VL-2B-Instruct (chat_template.json).
QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: "
    "{% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def visual_tokens_for_grid(grid_thw: tuple[int, int, int], merge_size: int = 2) -> int:
    """Visual tokens one image costs: its patch grid ``t*h*w`` merged ``merge_size**2`` patches to a token.

    Example:
        >>> visual_tokens_for_grid((1, 78, 138))   # 1920x1080 at the default budget
        2691
    """
    t, h, w = grid_thw
    return (t * h * w) // (merge_size * merge_size)

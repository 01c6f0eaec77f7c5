"""What the model was sent at one step, as a record: the chat's text, which screenshots, the decoding options.

A person debugging a model needs the prompt as sent, not as the templates suggest. Images are recorded by
the file the recorder wrote them to and by their size before and after ``smart_resize`` (what the model
saw, and its visual tokens). The system prompt does not change within an episode, so it is stored once in
``meta.json`` (``system_prompt``) and a step's system message refers to it (``ref="system_prompt"``)
instead of repeating it on every line of ``steps.jsonl``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from vlagent.actions.coords import QWEN2_VL_MAX_PIXELS, QWEN2_VL_MIN_PIXELS, resized_size
from vlagent.model.chat import Chat, GenerationOptions, ImagePart, VideoPart

#: Pixels per visual token after Qwen2-VL's 2x2 merge of 14-pixel patches.
PIXELS_PER_TOKEN = 28 * 28
#: ``PromptPart.ref`` value: the text is the episode's ``meta.system_prompt``.
SYSTEM_REF = "system_prompt"


class PromptImage(BaseModel):
    """One screenshot in the prompt: its file in the episode folder and its size as captured and as resized.

    Example:
        >>> PromptImage(file="step_000.png", width=1920, height=1080, resized_width=1932, resized_height=1092).tokens
        2691
    """

    model_config = ConfigDict(extra="forbid")

    file: str | None = Field(default=None, description="the step screenshot it is (None: not recorded)")
    width: int
    height: int
    resized_width: int
    resized_height: int

    @property
    def tokens(self) -> int:
        """Visual tokens the image costs a Qwen2-VL-style model."""
        return self.resized_width * self.resized_height // PIXELS_PER_TOKEN


class PromptVideo(BaseModel):
    """One video in the prompt: its frames' files and times, their size as captured and as sent.

    Example:
        >>> v = PromptVideo(files=["step_000.png", None], timestamps=[0.0, 0.5], width=160, height=210,
        ...                 resized_width=168, resized_height=224, tokens=48)
        >>> v.frames
        2
    """

    model_config = ConfigDict(extra="forbid")

    files: list[str | None] = Field(description="the step screenshot each frame is, oldest first (None: not recorded)")
    timestamps: list[float] = Field(description="seconds since the episode started, per frame")
    width: int
    height: int
    resized_width: int
    resized_height: int
    tokens: int = Field(description="visual tokens of the whole clip (two frames per temporal patch)")

    @property
    def frames(self) -> int:
        return len(self.files)


class PromptPart(BaseModel):
    """A text, an image, a video, or a reference to text stored once per episode.

    Example:
        >>> PromptPart(text="Click OK").kind
        'text'
    """

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    image: PromptImage | None = None
    video: PromptVideo | None = None
    ref: Literal["system_prompt"] | None = None

    @model_serializer(mode="wrap")
    def _only_what_is_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # One of them is set; nulls on every part would double the size of a prompt's line.
        return {k: v for k, v in handler(self).items() if v is not None}

    @property
    def kind(self) -> str:
        if self.video is not None:
            return "video"
        return "image" if self.image is not None else "ref" if self.ref else "text"


class PromptMessage(BaseModel):
    """One turn of the chat as sent.

    Example:
        >>> PromptMessage(role="user", parts=[PromptPart(text="hi")]).text
        'hi'
    """

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    parts: list[PromptPart] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(p.text or "" for p in self.parts)


class PromptRecord(BaseModel):
    r"""The chat of one step as sent, plus the decoding options.

    Example:
        >>> rec = PromptRecord(messages=[PromptMessage(role="user", parts=[PromptPart(text="hi")])])
        >>> rec.images, rec.messages[0].text
        ([], 'hi')
    """

    model_config = ConfigDict(extra="forbid")

    messages: list[PromptMessage] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict, description="decoding options of the call")

    @property
    def images(self) -> list[PromptImage]:
        return [p.image for m in self.messages for p in m.parts if p.image is not None]

    @property
    def videos(self) -> list[PromptVideo]:
        return [p.video for m in self.messages for p in m.parts if p.video is not None]


def system_text(chat: Chat) -> str | None:
    """The chat's system prompt, if it has one."""
    for m in chat.messages:
        if m.role == "system":
            return m.text
    return None


def record_chat(
    chat: Chat,
    *,
    files: Mapping[int, str] | None = None,
    options: GenerationOptions | None = None,
    system_prompt: str | None = None,
    default_pixels: tuple[int, int] | None = None,
    mask: Callable[[str], str] = lambda s: s,
) -> PromptRecord:
    """The record of ``chat``.

    Args:
        chat: the chat the backend got.
        files: ``id(image) -> file name`` for the screenshots the recorder writes.
        options: the decoding options the backend got.
        system_prompt: the episode's system prompt; a system message with exactly this text becomes a ref.
        default_pixels: ``(min_pixels, max_pixels)`` for images that carry no budget of their own.
        mask: applied to every text (secrets).

    Example:
        >>> from PIL import Image
        >>> chat = Chat.simple("Click OK", [Image.new("RGB", (640, 480))], system="You are an agent.")
        >>> rec = record_chat(chat, system_prompt="You are an agent.", default_pixels=(3136, 1003520))
        >>> [p.kind for m in rec.messages for p in m.parts], rec.images[0].resized_width
        (['ref', 'image', 'text'], 644)
    """
    files = files or {}
    lo_default, hi_default = default_pixels or (None, None)
    messages: list[PromptMessage] = []
    for m in chat.messages:
        parts: list[PromptPart] = []
        if m.role == "system" and system_prompt is not None and m.text == system_prompt:
            messages.append(PromptMessage(role="system", parts=[PromptPart(ref=SYSTEM_REF)]))
            continue
        for part in m.content:
            if isinstance(part, VideoPart):
                parts.append(PromptPart(video=_record_video(part, files, lo_default, hi_default)))
            elif isinstance(part, ImagePart):
                w, h = part.image.size
                lo = part.min_pixels or lo_default
                hi = part.max_pixels or hi_default
                rw, rh = resized_size(w, h, min_pixels=lo, max_pixels=hi) if lo and hi else (w, h)
                parts.append(PromptPart(image=PromptImage(file=files.get(id(part.image)), width=w, height=h,
                                                          resized_width=rw, resized_height=rh)))
            else:
                parts.append(PromptPart(text=mask(part.text)))
        messages.append(PromptMessage(role=m.role, parts=parts))
    opts = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(options).items()} if options else {}
    return PromptRecord(messages=messages, options=opts)


def _record_video(part: VideoPart, files: Mapping[int, str], lo: int | None, hi: int | None) -> PromptVideo:
    """A video's record, with the grid Qwen2-VL gives it (per-frame budget lowered to the clip's cap)."""
    from vlagent.model.preprocess import PatchSpec
    from vlagent.model.video import video_grid

    w, h = part.frames[0].size
    mn = part.min_pixels or lo or QWEN2_VL_MIN_PIXELS
    mx = part.max_pixels or hi or QWEN2_VL_MAX_PIXELS
    try:
        t, gh, gw = video_grid((w, h), len(part.frames), PatchSpec(), mn, mx, part.max_tokens)
    except ValueError:  # a clip over its cap: recorded as it is, and the backend refuses it with the reason
        t, gh, gw = 0, h // 14, w // 14
    return PromptVideo(files=[files.get(id(f)) for f in part.frames], timestamps=list(part.times), width=w,
                       height=h, resized_width=gw * 14, resized_height=gh * 14, tokens=t * gh * gw // 4)

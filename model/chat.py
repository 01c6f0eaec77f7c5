"""What every backend takes and returns: chats in, generations out.

This module has no torch in it on purpose: prompts/ builds chats and agent/ reads generations without
loading a model. Backends (transformers, OpenAI-compatible HTTP, a Python callable) all implement
:class:`ModelBackend`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from PIL import Image

from vlagent.model.errors import ModelRejected

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class TextPart:
    """A piece of text inside a message.

    Example:
        >>> TextPart("Click OK.").text
        'Click OK.'
    """

    text: str


@dataclass(frozen=True)
class ImagePart:
    """A screenshot inside a message; ``min_pixels``/``max_pixels`` override the backend's budget for it.

    Example:
        >>> part = ImagePart(Image.new("RGB", (64, 48)), max_pixels=1280 * 28 * 28)
        >>> part.image.size, part.min_pixels
        ((64, 48), None)
    """

    image: Image.Image
    min_pixels: int | None = None
    max_pixels: int | None = None


#: The Qwen2-VL paper's cap on one video's visual tokens; frames are made smaller to fit under it.
VIDEO_MAX_TOKENS = 16384


@dataclass(frozen=True)
class VideoPart:
    """A short clip inside a message: frames in order with the seconds each was captured at.

    Qwen2-VL reads a video as temporal patches of two frames each (an image is two identical frames), so
    motion between frames is visible to the model where separate images are not related in time.
    ``min_pixels``/``max_pixels`` bound each frame (``None``: the backend's image budget); ``max_tokens``
    bounds the whole clip, reached by shrinking every frame alike, since a long clip at screenshot
    resolution would fill the context. ``timestamps`` default to one frame a second; they set the
    temporal positions of models that encode time (Qwen2.5-VL) and are recorded with the prompt.

    Example:
        >>> clip = VideoPart((Image.new("RGB", (8, 8)),) * 3, timestamps=(0.0, 0.5, 1.0))
        >>> len(clip.frames), clip.fps, clip.max_tokens
        (3, 2.0, 16384)
    """

    frames: tuple[Image.Image, ...]
    timestamps: tuple[float, ...] | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_tokens: int = VIDEO_MAX_TOKENS

    def __post_init__(self) -> None:
        # Validated here, where a user's mistake is made, rather than deep inside a backend's tensors.
        object.__setattr__(self, "frames", tuple(self.frames))
        if not self.frames:
            raise ModelRejected("a video needs at least one frame")
        if self.timestamps is not None:
            stamps = tuple(float(t) for t in self.timestamps)
            if len(stamps) != len(self.frames):
                raise ModelRejected(f"a video of {len(self.frames)} frames got {len(stamps)} timestamps")
            if any(b < a for a, b in zip(stamps, stamps[1:], strict=False)):
                raise ModelRejected(f"video timestamps must not go back in time: {stamps}")
            object.__setattr__(self, "timestamps", stamps)
        if self.max_tokens <= 0:
            raise ModelRejected(f"a video's max_tokens must be positive, got {self.max_tokens}")

    @property
    def times(self) -> tuple[float, ...]:
        """The timestamps, or one a second from 0 when none were given."""
        return self.timestamps if self.timestamps is not None else tuple(float(i) for i in range(len(self.frames)))

    @property
    def fps(self) -> float:
        """Frames per second over the clip (1.0 for a single frame or frames all at one instant)."""
        times = self.times
        span = times[-1] - times[0]
        return (len(times) - 1) / span if span > 0 else 1.0


Part = TextPart | ImagePart | VideoPart


@dataclass(frozen=True)
class Message:
    """One turn of a chat.

    Example:
        >>> Message("user", [TextPart("hi")]).text
        'hi'
    """

    role: Role
    content: list[Part]

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def images(self) -> list[Image.Image]:
        return [p.image for p in self.content if isinstance(p, ImagePart)]

    @property
    def videos(self) -> list[VideoPart]:
        return [p for p in self.content if isinstance(p, VideoPart)]


@dataclass(frozen=True)
class Chat:
    """A whole conversation for one generation.

    Example:
        >>> Chat.simple("Describe the screen.").messages[0].role
        'user'
    """

    messages: list[Message]
    #: Labels for the records (``profile``, ``family``) that backends ignore. Never sent to a model, and
    #: never ground truth: policies get that from the env's info (vlagent.agent.policy).
    metadata: dict[str, object] = field(default_factory=dict, compare=False)

    @classmethod
    def simple(cls, prompt: str, images: Sequence[Image.Image] = (), system: str | None = None) -> Chat:
        msgs: list[Message] = []
        if system:
            msgs.append(Message("system", [TextPart(system)]))
        msgs.append(Message("user", [*(ImagePart(im) for im in images), TextPart(prompt)]))
        return cls(msgs)

    @property
    def images(self) -> list[Image.Image]:
        return [im for m in self.messages for im in m.images]

    @property
    def videos(self) -> list[VideoPart]:
        return [v for m in self.messages for v in m.videos]


@dataclass(frozen=True)
class GenerationOptions:
    """Decoding and vision-budget options; ``None`` pixel budgets mean the backend's own.

    Example:
        >>> opts = GenerationOptions(max_new_tokens=64, stop=("<|im_end|>",))
        >>> opts.temperature, opts.max_pixels
        (0.0, None)
    """

    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 means greedy
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    min_pixels: int | None = None
    max_pixels: int | None = None


def escape_surrogates(text: str) -> str:
    r"""``text`` with lone surrogates (``\ud800``) written as their escape, so it encodes as UTF-8.

    A server may send ``"\ud800"`` in its JSON, which Python decodes to a lone surrogate: a str that no
    UTF-8 writer (``steps.jsonl``, the next request) accepts. The escape keeps what arrived readable.

    Example:
        >>> escape_surrogates("ok \ud800 é")
        'ok \\ud800 é'
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class Generation:
    """One reply with the figures a user tunes against (token counts, where the time went).

    Example:
        >>> Generation(text="click(...)").new_tokens
        0
    """

    text: str
    prompt_tokens: int = 0
    visual_tokens: int = 0
    new_tokens: int = 0
    preprocess_seconds: float = 0.0
    generate_seconds: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.preprocess_seconds + self.generate_seconds


@runtime_checkable
class ModelBackend(Protocol):
    """Turns a batch of chats into one generation per chat, in order.

    Implementations raise ``ModelError`` subclasses (model/errors.py), never return error strings.

    Example:
        >>> class Echo:
        ...     name = "echo"
        ...     def generate(self, chats, options=None):
        ...         return [Generation(text=chat.messages[-1].text) for chat in chats]
        >>> backend = Echo()
        >>> isinstance(backend, ModelBackend), backend.generate([Chat.simple("hi")])[0].text
        (True, 'hi')
    """

    name: str

    def generate(self, chats: Sequence[Chat], options: GenerationOptions | None = None) -> list[Generation]: ...

"""Turns a :class:`PromptRequest` into the :class:`Chat` a profile's checkpoint expects.

Two history layouts, as the models were trained:

- ``replay`` (UI-TARS): the instruction prompt, then for each earlier step its screenshot (only for the
  last k-1 steps, as the official loop keeps at most ``history_n`` images) as a user turn and the model's
  own raw reply as an assistant turn, then the current screenshot. This is the multi-turn layout of
  xlang-ai/OSWorld ``mm_agents/uitars_agent.py`` (``UITARSAgent.predict``).
- ``text``: one user turn holding the prompt with the earlier steps listed as text, followed by the
  screenshots, oldest first, the current one last.

A request with a ``video`` (the loop's ``--video-frames``) gets it right before the current screenshot,
labelled, in either layout: the clip shows the motion up to now, and the screenshot after it stays the
image every coordinate refers to (the clip's frames are smaller and only a reference for motion).

A step whose reply could not be executed is told to the model in so many words (``Your previous reply
could not be executed: ...``) right after it, so the model can correct itself instead of repeating it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from vlagent.actions.coords import resized_size
from vlagent.actions.errors import ProfileError
from vlagent.model.chat import Chat, ImagePart, Message, Part, TextPart
from vlagent.prompts.errors import PromptRequestError
from vlagent.prompts.request import PromptRequest
from vlagent.prompts.templates import render

if TYPE_CHECKING:
    from vlagent.prompts.profiles import ModelProfile

#: Labels the clip before the current screenshot.
VIDEO_LABEL = "The last {frames} frames up to now, as a video ({seconds:.1f} s):"
#: Told to the model after a reply that could not be executed (parse error, point off screen, ...).
FEEDBACK = "Your previous reply could not be executed: {error}\nReply again in the format: {reply_format}"


def build_chat(
    profile: ModelProfile,
    request: PromptRequest,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> Chat:
    """The chat for one step; images carry the profile's pixel budget unless overridden here.

    Example:
        >>> from PIL import Image
        >>> from vlagent.prompts.profiles import get_profile
        >>> req = PromptRequest(family="game", task="reach the goal", images=[Image.new("RGB", (64, 64))],
        ...                     options=("left", "right", "forward"), supported=frozenset({"choose"}))
        >>> chat = build_chat(get_profile("json"), req)
        >>> [m.role for m in chat.messages], len(chat.images)
        (['system', 'user'], 1)
    """
    if request.family not in profile.templates:
        raise ProfileError(
            f"profile {profile.name!r} has no prompt for env family {request.family!r}; "
            f"it has: {', '.join(profile.families)}"
        )
    _check(request)
    lo = profile.min_pixels if min_pixels is None else min_pixels
    hi = profile.max_pixels if max_pixels is None else max_pixels
    if lo <= 0 or hi < lo:
        raise PromptRequestError(f"need 0 < min_pixels <= max_pixels, got {lo} and {hi}")

    system_name, user_name = profile.templates[request.family]
    values = _values(profile, request, lo, hi)
    system = render(system_name, values, profile.template_texts) if system_name else None
    prompt = render(user_name, values, profile.template_texts)
    images = [ImagePart(im, min_pixels=lo, max_pixels=hi) for im in request.images]
    clip = _video(request, lo, hi)

    messages: list[Message] = [Message("system", [TextPart(system)])] if system else []
    if profile.history_style == "replay":
        messages += _replay(profile, request, prompt, images, clip)
    else:
        messages.append(Message("user", _text_turn(profile, request, prompt, images, clip)))
    return Chat(messages, metadata={"profile": profile.name, "family": request.family})


def _video(request: PromptRequest, lo: int, hi: int) -> list[Part]:
    """The labelled clip (frames at the chat's budget unless it has its own), or nothing."""
    clip = request.video
    if clip is None:
        return []
    clip = replace(clip, min_pixels=clip.min_pixels or lo, max_pixels=clip.max_pixels or hi)
    label = VIDEO_LABEL.format(frames=len(clip.frames), seconds=clip.times[-1] - clip.times[0])
    return [TextPart(label), clip]


def _check(request: PromptRequest) -> None:
    if not request.images:
        raise PromptRequestError("a prompt needs at least the current screenshot (request.images is empty)")
    if len(request.images) - 1 > len(request.history):
        raise PromptRequestError(
            f"{len(request.images)} screenshots but only {len(request.history)} earlier steps: each earlier "
            "screenshot belongs to one history entry (oldest first, the current screen last)"
        )


def instruction(request: PromptRequest) -> str:
    """The task, with the env's own text (a MiniWoB utterance, a MiniGrid mission) when it adds something."""
    extra = request.env_text.strip()
    if not extra or extra in request.task:
        return request.task
    return f"{request.task}\n{extra}"


def feedback(profile: ModelProfile, error: str) -> str:
    """The message that tells the model its reply failed and how to reply instead."""
    return FEEDBACK.format(error=error, reply_format=profile.reply_format)


def _values(profile: ModelProfile, request: PromptRequest, lo: int, hi: int) -> dict[str, str]:
    renderers = profile.renderers
    values = {
        "instruction": instruction(request),
        "language": "English",
        "history": "" if profile.history_style == "replay" else renderers.history(request.history),
        "app": renderers.app_name(request.family),
        "reply_format": profile.reply_format,
        "options": ", ".join(request.options),
    }
    if renderers.action_space is not None:
        values["action_space"] = renderers.action_space(request)
    if renderers.tools is not None:
        w, h = request.screen_size
        values["tools"] = renderers.tools(request, *resized_size(w, h, min_pixels=lo, max_pixels=hi))
    return values


# --- replay layout (UI-TARS) ------------------------------------------------------------------------


def _replay(
    profile: ModelProfile, request: PromptRequest, prompt: str, images: Sequence[ImagePart],
    clip: Sequence[Part] = (),
) -> list[Message]:
    history = request.history
    first_with_image = len(history) - (len(images) - 1)
    out = [Message("user", [TextPart(prompt)])]
    for i, entry in enumerate(history):
        if i >= first_with_image:
            out.append(Message("user", [images[i - first_with_image]]))
        out.append(Message("assistant", [TextPart(entry.reply)]))
        if entry.error:
            out.append(Message("user", [TextPart(feedback(profile, entry.error))]))
        if entry.user_reply:
            out.append(Message("user", [TextPart(f"The user answered: {entry.user_reply}")]))
    if clip:
        out.append(Message("user", list(clip)))
    out.append(Message("user", [images[-1]]))
    return out


# --- text layout (everyone else) -------------------------------------------------------------------


def _text_turn(
    profile: ModelProfile, request: PromptRequest, prompt: str, images: Sequence[ImagePart],
    clip: Sequence[Part] = (),
) -> list[Part]:
    text = prompt
    last = request.history[-1] if request.history else None
    if last is not None and last.error:
        text += "\n\n" + feedback(profile, last.error)
    pictures: list[Part] = []
    n_past = len(images) - 1
    first_step = len(request.history) - n_past + 1
    for j, image in enumerate(images[:-1]):
        pictures += [TextPart(f"Screenshot at step {first_step + j}:"), image]
    pictures += clip
    if n_past or clip:
        pictures.append(TextPart(f"Current screenshot (step {len(request.history) + 1}):"))
    pictures.append(images[-1])
    return [*pictures, TextPart(text)] if profile.image_first else [TextPart(text), *pictures]

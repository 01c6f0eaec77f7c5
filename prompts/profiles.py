"""The profile registry: everything that changes from one checkpoint to another, chosen by name.

A :class:`ModelProfile` bundles a checkpoint's prompt templates (one per env family), the way its
prompts write the action space and the history, its coordinate space, its Qwen ``smart_resize`` pixel
budget and its output parser. The loop picks one by name with :func:`get_profile`; nothing is inferred
from flags or from substrings of a model id (STYLE.md, prompts/).

Where each profile's wording comes from is noted next to it and at the top of each template file.
Plugins add profiles with :func:`register_profile` or a ``vlagent.profiles`` entry point (see
:mod:`vlagent.actions.plugins`); every lookup and :func:`profile_names` load them first.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, get_args

from vlagent.actions.coords import QWEN2_VL_MAX_PIXELS, QWEN2_VL_MIN_PIXELS, Space
from vlagent.actions.errors import ProfileError
from vlagent.actions.plugins import PROFILES_GROUP, load_group, made
from vlagent.prompts.builder import build_chat
from vlagent.prompts.renderers import (
    JSON_RENDERERS,
    QWEN2VL_RENDERERS,
    RENDERERS,
    SHOWUI_RENDERERS,
    TOOL_CALL_RENDERERS,
    UITARS_15_RENDERERS,
    UITARS_RENDERERS,
    Renderers,
)

if TYPE_CHECKING:
    from vlagent.actions.parsers.base import ActionParser
    from vlagent.model.chat import Chat
    from vlagent.prompts.request import Family, PromptRequest

#: How a profile writes the action space (one writer per output syntax, see prompts/action_space.py).
Syntax = Literal["qwen2vl", "uitars", "uitars-1.5", "tool_call", "showui", "json"]
SYNTAXES: tuple[str, ...] = get_args(Syntax)
#: ``replay``: earlier replies become assistant turns interleaved with their screenshots (UI-TARS's
#: multi-turn format); ``text``: earlier steps are listed as text in the user turn.
HistoryStyle = Literal["replay", "text"]

# UI-TARS's own budget: codes/ui_tars/action_parser.py in bytedance/UI-TARS (MIN_PIXELS = 100 * 28 * 28,
# MAX_PIXELS = 16384 * 28 * 28), the numbers its coordinate conversion for 1.5 uses.
UITARS_MIN_PIXELS = 100 * 28 * 28
UITARS_MAX_PIXELS = 16384 * 28 * 28
# ShowUI's README (showlab/ShowUI): min_pixels = 256*28*28, max_pixels = 1344*28*28.
SHOWUI_MIN_PIXELS = 256 * 28 * 28
SHOWUI_MAX_PIXELS = 1344 * 28 * 28


@dataclass(frozen=True)
class ModelProfile:
    """One checkpoint family's prompt wording, coordinate convention, pixel budget and parser.

    ``templates`` maps an env family to a ``(system, user)`` pair of template file names under
    ``prompts/templates/`` (``system`` may be ``None``: some models were trained without one).
    ``parser_cls`` is a dotted path imported only by :meth:`make_parser`, so the registry loads without
    pulling in every parser.

    Example:
        >>> p = get_profile("ui-tars-1.5")
        >>> (p.space, p.min_pixels, p.max_pixels)
        ('resized', 78400, 12845056)
        >>> p.supports("game")
        True
    """

    name: str
    space: Space
    min_pixels: int
    max_pixels: int
    parser_cls: str
    templates: Mapping[Family, tuple[str | None, str]] = field(hash=False)
    #: One of :data:`SYNTAXES`, or a plugin's own name for its format when it passes ``action_space``.
    syntax: Syntax | str
    history_style: HistoryStyle = "text"
    parser_kwargs: Mapping[str, object] = field(default_factory=dict, hash=False)
    #: Screenshots before the text in the user turn (Qwen2-VL's own examples), else after it.
    image_first: bool = False
    #: The reply format in the model's own terms, repeated when a reply could not be executed.
    reply_format: str = ""
    source: str = ""
    #: Templates the profile carries itself (file name -> text), looked up before the packaged ones: how a
    #: plugin ships its wording in one module.
    template_texts: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: The profile's own action-space writer (a plugin's); it replaces the action space (or tool schema) of
    #: ``renderers``.
    action_space: Callable[[PromptRequest], str] | None = field(default=None, hash=False)
    #: How its prompts write the action space or tools, the history and the app; ``None``: the built-in
    #: ones of ``syntax`` (a plugin's own syntax gets the json ones, with its ``action_space``).
    renderers: Renderers | None = field(default=None, hash=False, compare=False)

    def __post_init__(self) -> None:
        if self.min_pixels <= 0 or self.max_pixels < self.min_pixels:
            raise ProfileError(f"profile {self.name!r}: need 0 < min_pixels <= max_pixels")
        # Read-only views, so a shared registry entry cannot be mutated by one caller for everyone.
        object.__setattr__(self, "parser_kwargs", MappingProxyType(dict(self.parser_kwargs)))
        object.__setattr__(self, "templates", MappingProxyType(dict(self.templates)))
        object.__setattr__(self, "template_texts", MappingProxyType(dict(self.template_texts)))
        renderers = self.renderers or RENDERERS.get(self.syntax)
        if self.action_space is not None:
            renderers = replace(renderers or JSON_RENDERERS, action_space=self.action_space, tools=None)
        if renderers is None:
            raise ProfileError(f"profile {self.name!r}: syntax {self.syntax!r} has no built-in action-space writer "
                               f"({', '.join(SYNTAXES)}); pass action_space= or renderers=")
        object.__setattr__(self, "renderers", renderers)

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(self.templates)

    def supports(self, family: str) -> bool:
        return family in self.templates

    def make_parser(self) -> ActionParser:
        """A fresh parser for this profile's output format (imported on first use)."""
        module_name, _, cls_name = self.parser_cls.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), cls_name)
        except (ImportError, AttributeError) as exc:
            raise ProfileError(f"profile {self.name!r}: cannot load parser {self.parser_cls}: {exc}") from exc
        return cls(**self.parser_kwargs)

    def build_chat(
        self, request: PromptRequest, *, min_pixels: int | None = None, max_pixels: int | None = None
    ) -> Chat:
        """The chat this checkpoint expects for one step: its system prompt, history and screenshot(s).

        Images carry this profile's ``min_pixels``/``max_pixels`` unless overridden here.
        """
        return build_chat(self, request, min_pixels=min_pixels, max_pixels=max_pixels)


def _same(system: str | None, user: str, *, robot: str | None = None) -> dict[Family, tuple[str | None, str]]:
    """One template pair for every family (the action space, filled in per family, is what differs).

    ``robot`` replaces the user template for the robot family where the GUI wording would mislead
    ("You are a GUI agent").
    """
    pairs: dict[Family, tuple[str | None, str]] = {
        family: (system, user) for family in ("desktop", "web", "mobile", "game")
    }
    pairs["robot"] = (system, robot or user)
    return pairs


# UI-TARS v1 (2B/7B/72B SFT/DPO): UITARS_USR_PROMPT_THOUGHT with the computer/mobile action spaces of
# xlang-ai/OSWorld mm_agents/uitars_agent.py (the prompts bytedance/UI-TARS's README gave for v1), replayed
# multi-turn as that agent does. Coordinates are ints in [0, 1000).
_UITARS = ModelProfile(
    name="ui-tars",
    space="rel1000",
    min_pixels=UITARS_MIN_PIXELS,
    max_pixels=UITARS_MAX_PIXELS,
    parser_cls="vlagent.actions.parsers.uitars.UITarsParser",
    parser_kwargs={"space": "rel1000"},
    templates=_same("assistant_system.txt", "uitars_user.txt", robot="uitars_robot.txt"),
    syntax="uitars",
    renderers=UITARS_RENDERERS,
    history_style="replay",
    reply_format="Thought: ...\nAction: ...",
    source="xlang-ai/OSWorld mm_agents/uitars_agent.py; bytedance/UI-TARS README",
)
# UI-TARS-1.5: COMPUTER_USE_DOUBAO / MOBILE_USE_DOUBAO of bytedance/UI-TARS codes/ui_tars/prompt.py, the same
# text with <point>x y</point> coordinates in pixels of the resized image.
_UITARS_15 = replace(
    _UITARS,
    name="ui-tars-1.5",
    space="resized",
    parser_kwargs={"space": "resized"},
    syntax="uitars-1.5",
    renderers=UITARS_15_RENDERERS,
    source="bytedance/UI-TARS codes/ui_tars/prompt.py",
)

PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        # Qwen2-VL was not trained as an agent; it grounds. Its prompt asks for vlagent's plain action calls
        # with coordinates written as Qwen2-VL grounds: <|box_start|>(x1,y1),(x2,y2)<|box_end|>, ints in
        # [0, 1000), referred phrases in <|object_ref_start|>...<|object_ref_end|> (QwenLM/Qwen2-VL README
        # and technical report, grounding). See templates/qwen2vl_user.txt.
        ModelProfile(
            name="qwen2-vl",
            space="rel1000",
            min_pixels=QWEN2_VL_MIN_PIXELS,
            max_pixels=QWEN2_VL_MAX_PIXELS,
            parser_cls="vlagent.actions.parsers.qwen2vl.Qwen2VLParser",
            templates=_same("assistant_system.txt", "qwen2vl_user.txt", robot="qwen2vl_robot.txt"),
            image_first=True,
            syntax="qwen2vl",
            renderers=QWEN2VL_RENDERERS,
            reply_format="one action per line, e.g. click(<|box_start|>(x,y)<|box_end|>) with x, y in 0-999, "
            "or <|object_ref_start|>target<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>",
            source="QwenLM/Qwen2-VL README (grounding)",
        ),
        # Qwen2.5-VL: the function-call prompts of its cookbooks (QwenLM/Qwen2.5-VL cookbooks/computer_use.ipynb
        # and mobile_agent.ipynb, built with qwen_agent's NousFnCallPrompt and the ComputerUse/MobileUse tool
        # schemas in cookbooks/utils/agent_function_call.py). Coordinates are pixels of the resized image.
        ModelProfile(
            name="qwen2.5-vl",
            space="resized",
            min_pixels=QWEN2_VL_MIN_PIXELS,
            max_pixels=QWEN2_VL_MAX_PIXELS,
            parser_cls="vlagent.actions.parsers.tool_call.ToolCallParser",
            templates=_same("qwen25vl_system.txt", "qwen25vl_user.txt"),
            syntax="tool_call",
            renderers=TOOL_CALL_RENDERERS,
            reply_format='<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>',
            source="QwenLM/Qwen2.5-VL cookbooks/computer_use.ipynb, mobile_agent.ipynb",
        ),
        _UITARS,
        _UITARS_15,
        # ShowUI: the _NAV_SYSTEM / _NAV_FORMAT prompt and the web/phone action_map of showlab/ShowUI's
        # README ("UI Navigation"), all in the user turn. Coordinates are floats in [0, 1].
        ModelProfile(
            name="showui",
            space="rel1",
            min_pixels=SHOWUI_MIN_PIXELS,
            max_pixels=SHOWUI_MAX_PIXELS,
            parser_cls="vlagent.actions.parsers.showui.ShowUIParser",
            templates=_same(None, "showui_nav.txt"),
            syntax="showui",
            renderers=SHOWUI_RENDERERS,
            reply_format="{'action': 'ACTION_TYPE', 'value': 'element', 'position': [x,y]}",
            source="showlab/ShowUI README (UI Navigation, _NAV_SYSTEM)",
        ),
        # Generic JSON {thought, action}: vlagent's own wording for gym-style envs with named actions
        # (no checkpoint was trained on it; any instruction-following VLM can follow it).
        ModelProfile(
            name="json",
            space="rel1000",
            min_pixels=QWEN2_VL_MIN_PIXELS,
            max_pixels=QWEN2_VL_MAX_PIXELS,
            parser_cls="vlagent.actions.parsers.json_action.JSONActionParser",
            templates=_same("json_system.txt", "json_user.txt"),
            syntax="json",
            renderers=JSON_RENDERERS,
            reply_format='{"thought": "...", "action": "..."}',
            source="vlagent (no upstream prompt)",
        ),
    )
}


#: The profiles vlagent ships; :data:`PROFILES` adds the ones plugins register.
BUILTIN_PROFILES: Mapping[str, ModelProfile] = MappingProxyType(dict(PROFILES))


def register_profile(profile: ModelProfile) -> ModelProfile:
    """Make ``profile`` available by its name, as plugins do (see :mod:`vlagent.actions.plugins`).

    Registering the same profile again is harmless; another profile under a taken name is a
    :class:`ProfileError`, so a plugin cannot silently replace a shipped profile. Returns the profile.

    Example:
        >>> register_profile(get_profile("json")) is get_profile("json")
        True
        >>> register_profile(replace(get_profile("json"), source="mine"))
        Traceback (most recent call last):
        ...
        vlagent.actions.errors.ProfileError: a different profile is already registered as 'json'
    """
    if not isinstance(profile, ModelProfile):
        raise ProfileError(f"register_profile takes a ModelProfile, got {type(profile).__name__}")
    taken = PROFILES.get(profile.name)
    if taken is not None and taken is not profile:
        raise ProfileError(f"a different profile is already registered as {profile.name!r}")
    PROFILES[profile.name] = profile
    return profile


def _load_plugins() -> None:
    load_group(PROFILES_GROUP, lambda _, obj: register_profile(made(obj, ModelProfile, "a model profile")))


def profile_names() -> list[str]:
    """Every registered profile's name, plugins' included, sorted (for help texts and errors).

    Example:
        >>> {"qwen2-vl", "ui-tars"} <= set(profile_names())
        True
    """
    _load_plugins()
    return sorted(PROFILES)


def get_profile(name: str) -> ModelProfile:
    """The profile registered under ``name``; :class:`ProfileError` naming the known ones otherwise.

    Example:
        >>> get_profile("qwen2-vl").space
        'rel1000'
        >>> get_profile("gpt-4")
        Traceback (most recent call last):
        ...
        vlagent.actions.errors.ProfileError: unknown profile 'gpt-4'; known profiles: json, qwen2-vl, qwen2.5-vl, showui, ui-tars, ui-tars-1.5
        >>> get_profile("uitars")
        Traceback (most recent call last):
        ...
        vlagent.actions.errors.ProfileError: unknown profile 'uitars'; did you mean ui-tars, ui-tars-1.5? known profiles: ...
    """
    _load_plugins()
    try:
        return PROFILES[name]
    except KeyError:
        from vlagent.actions.suggest import did_you_mean

        names = profile_names()
        raise ProfileError(
            f"unknown profile {name!r}; {did_you_mean(name, names)}known profiles: {', '.join(names)}"
        ) from None

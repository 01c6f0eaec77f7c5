"""Policies: what decides each step, from the observation, the env's info and the history.

A policy gets one :class:`PolicyStep` per live episode and answers each with a reply:

- the text a model would send (a ``str`` or a :class:`~vlagent.model.chat.Generation`), or
- :class:`Planned` typed actions in screen pixels, which the loop writes in the profile's format
  (:func:`vlagent.agent.scripted.write_reply`) before parsing them like any model's reply.

Either way the reply text goes through the profile's parser, the coordinate conversion and the env, so a
scripted policy exercises the whole pipeline. Two implementations ship: :class:`ModelPolicy` (a backend
that reads the profile's chat) and the scripted oracle (:mod:`vlagent.agent.scripted`, which reads the
env's ground truth from ``info``). Ground truth reaches a policy through ``info`` only, never inside a
chat, so nothing a model could be sent carries it.

A backend-shaped object (``generate(chats, options)``) is made a policy by :func:`as_policy`; an object
with ``decide(steps)`` is one already, also when the python backend wraps it (``--backend python``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from vlagent.actions.coords import Geometry
from vlagent.actions.models import Action
from vlagent.model.chat import Chat, Generation, GenerationOptions, ModelBackend
from vlagent.prompts.request import HistoryEntry

if TYPE_CHECKING:
    from vlagent.envs.base import Observation
    from vlagent.prompts.profiles import ModelProfile


@dataclass(frozen=True)
class PolicyStep:
    """What a policy may look at for one step of one episode.

    ``prompt`` is the chat the profile built from the same observation and history (what a model reads);
    ``geometry`` is the observation's, under the agent's pixel budget; ``step`` counts the earlier steps.

    Example:
        >>> from PIL import Image
        >>> from vlagent.envs.base import Observation
        >>> obs = Observation(Image.new("RGB", (8, 8)), options=("left", "right"))
        >>> g = Geometry(width=8, height=8, resized_width=28, resized_height=28)
        >>> PolicyStep(obs, {}, (), "go", 0, g, frozenset({"choose"}), Chat.simple("go"), None).options
        ('left', 'right')
    """

    observation: Observation
    info: Mapping[str, Any]
    history: Sequence[HistoryEntry]
    task: str
    step: int
    geometry: Geometry
    supported: frozenset[str]
    prompt: Chat
    profile: ModelProfile | None

    @property
    def options(self) -> tuple[str, ...]:
        """The env's named discrete actions (``choose``), if it has any."""
        return tuple(self.observation.options)


@dataclass(frozen=True)
class Planned:
    """Typed actions in screen pixels (and a thought) that the loop writes in the profile's format.

    Example:
        >>> from vlagent.actions.models import Finished
        >>> Planned((Finished(),), thought="The task is done.").actions[0].type
        'finished'
    """

    actions: tuple[Action, ...]
    thought: str | None = None


#: One policy answer: model text, or planned actions the loop writes as text.
Reply = Generation | str | Planned


@runtime_checkable
class Policy(Protocol):
    """Decides one reply per step, in order; raises ``ModelError`` subclasses, never returns error strings.

    Example:
        >>> class Done:
        ...     def decide(self, steps):
        ...         return ["finished()" for _ in steps]
        >>> isinstance(Done(), Policy)
        True
    """

    def decide(self, steps: Sequence[PolicyStep]) -> Sequence[Reply]: ...


class ModelPolicy:
    """A backend reading each step's prompt: profile (the chat) + backend (the text); the loop parses it.

    Example:
        >>> class Echo:
        ...     name = "echo"
        ...     def generate(self, chats, options=None):
        ...         return [Generation(text="wait()") for _ in chats]
        >>> ModelPolicy(Echo()).backend.name
        'echo'
    """

    def __init__(self, backend: ModelBackend, options: GenerationOptions | None = None) -> None:
        self.backend = backend
        self.options = options or GenerationOptions()

    def decide(self, steps: Sequence[PolicyStep]) -> list[Generation]:
        return list(self.backend.generate([s.prompt for s in steps], self.options))


def policy_of(target: Any) -> Policy | None:
    """``target`` as a policy when it is one (or is a python backend around one), else ``None``.

    Example:
        >>> policy_of(object()) is None
        True
    """
    for candidate in (target, getattr(target, "target", None)):
        if candidate is not None and callable(getattr(candidate, "decide", None)):
            return candidate
    return None


def as_policy(target: Any, options: GenerationOptions | None = None) -> Policy:
    """The policy that drives an :class:`~vlagent.agent.loop.Agent` given ``target`` as its backend.

    Example:
        >>> from vlagent.model.python_backend import PythonBackend
        >>> from vlagent.agent.scripted import OraclePolicy
        >>> type(as_policy(PythonBackend(OraclePolicy()))).__name__
        'OraclePolicy'
    """
    policy = policy_of(target)
    if policy is not None:
        return policy
    if not callable(getattr(target, "generate", None)):
        raise TypeError(f"{type(target).__name__} is neither a policy (decide) nor a backend (generate)")
    return ModelPolicy(target, options)

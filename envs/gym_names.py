"""Names for gymnasium's discrete actions, and the words that describe known games.

A model cannot press "action 3"; it can say ``choose("LEFT")``. This module knows what the actions of
well-known envs are called (FrozenLake, CliffWalking, Taxi, Blackjack tables; MiniGrid's ``Actions``
enum; ALE's ``get_action_meanings()``), which of them are screen-direction moves, what each game's task
is in words, how its numeric observation reads as text, and when an episode counts as a success.

:class:`ActionNames` matches names case-insensitively, ignoring spaces, ``_`` and ``-`` (``no-op`` is
``NOOP``), and through aliases (``stand`` is Blackjack's ``stick``, ``south`` is Taxi's ``down``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from vlagent.actions.errors import ActionError

#: Describes an observation in words: ``(raw gym observation, the unwrapped env) -> text``.
Describer = Callable[[Any, gym.Env], str]
#: Success check at a step: ``(reward, terminated, info) -> bool``.
SuccessRule = Callable[[float, bool, Mapping[str, Any]], bool]


def normalize_name(name: str) -> str:
    """The form names are compared in: lower case, letters and digits only.

    Example:
        >>> normalize_name("No-Op"), normalize_name("UP_RIGHT"), normalize_name(" Pick up ")
        ('noop', 'upright', 'pickup')
    """
    return re.sub(r"[^a-z0-9]", "", name.lower())


class UnknownOptionError(ActionError):
    """``choose(option)`` named no action of this env; the message lists the valid names.

    Example:
        >>> str(UnknownOptionError("jump", ["left", "right"]))
        "unknown option 'jump'; valid options: left, right"
    """

    def __init__(self, option: str, valid: Sequence[str]) -> None:
        self.option = option
        self.valid = tuple(valid)
        super().__init__(f"unknown option {option!r}; valid options: {', '.join(self.valid)}")


@dataclass(frozen=True)
class ActionNames:
    """The names of a ``Discrete`` space's actions, index ``i`` is ``names[i]`` (before ``start``).

    ``aliases`` maps other spellings to a name; ``directions`` maps ``up``/``down``/``left``/``right`` to
    the name that moves that way *on screen* (only for envs where that is unambiguous).

    Example:
        >>> names = ActionNames(("stick", "hit"), aliases={"stand": "stick"})
        >>> names.index("HIT"), names.index("Stand")
        (1, 0)
    """

    names: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)
    directions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError("an env needs at least one action name")
        seen: dict[str, str] = {}
        for name in self.names:
            key = normalize_name(name)
            if not key:
                raise ValueError(f"action name {name!r} has no letters or digits")
            if key in seen:
                raise ValueError(f"action names {seen[key]!r} and {name!r} are the same when case is ignored")
            seen[key] = name
        for target in (*self.aliases.values(), *self.directions.values()):
            if normalize_name(target) not in seen:
                raise ValueError(f"alias target {target!r} is not one of the names {self.names}")

    @classmethod
    def generic(cls, n: int) -> ActionNames:
        """``action_0`` .. ``action_{n-1}`` for envs whose actions nobody named."""
        return cls(tuple(f"action_{i}" for i in range(n)))

    def index(self, option: str) -> int:
        """The position of ``option`` (a name or an alias, any case); :class:`UnknownOptionError` if none."""
        key = normalize_name(option)
        for i, name in enumerate(self.names):
            if normalize_name(name) == key:
                return i
        for alias, target in self.aliases.items():
            if normalize_name(alias) == key:
                return self.index(target)
        raise UnknownOptionError(option, self.names)

    def direction_index(self, direction: str) -> int:
        """The position of the action that moves in ``direction`` on screen."""
        return self.index(self.directions[direction])


@dataclass(frozen=True)
class GameInfo:
    """What vlagent knows about one game: action names, its task in words, text and success rules.

    Example:
        >>> info = GameInfo(ActionNames(("left", "right")), task="Reach the flag.")
        >>> info.task
        'Reach the flag.'
    """

    names: ActionNames
    task: str | Callable[[gym.Env], str] = ""
    describe: Describer | None = None
    success: SuccessRule | None = None

    def task_for(self, env: gym.Env) -> str:
        """The task in words for the episode ``env`` (unwrapped) has just reset to."""
        return self.task(env) if callable(self.task) else self.task


def _reached_with_reward(reward: float, terminated: bool, info: Mapping[str, Any]) -> bool:
    return bool(terminated and reward > 0)


def _terminated(reward: float, terminated: bool, info: Mapping[str, Any]) -> bool:
    return bool(terminated)


def _describe_grid(state: Any, env: gym.Env) -> str:
    # FrozenLake keeps nrow/ncol, CliffWalking a (rows, cols) shape; both number cells row by row
    nrow, ncol = (env.nrow, env.ncol) if hasattr(env, "ncol") else env.shape
    row, col = divmod(int(state), int(ncol))
    return f"You are at row {row}, column {col} of the {nrow}x{ncol} grid (row 0 is the top)."


_TAXI_STOPS = ("R (red)", "G (green)", "Y (yellow)", "B (blue)")


def _describe_taxi(obs: Any, env: gym.Env) -> str:
    taxi_row, taxi_col, passenger, destination = (int(v) for v in env.decode(int(obs)))
    locs = env.locs
    where = "in the taxi" if passenger == 4 else (
        f"waiting at {_TAXI_STOPS[passenger]}, row {locs[passenger][0]}, column {locs[passenger][1]}"
    )
    dest = f"{_TAXI_STOPS[destination]}, row {locs[destination][0]}, column {locs[destination][1]}"
    return f"The taxi is at row {taxi_row}, column {taxi_col}. The passenger is {where}. Destination: {dest}."


def _describe_blackjack(obs: Any, env: gym.Env) -> str:
    player, dealer, usable_ace = (int(v) for v in obs)
    card = "an ace" if dealer == 1 else str(dealer)
    ace = "a usable ace" if usable_ace else "no usable ace"
    return f"Your hand totals {player} ({ace}). The dealer shows {card}."


def _describe_minigrid(obs: Any, env: gym.Env) -> str:
    mission = obs.get("mission") if isinstance(obs, Mapping) else None
    return str(mission if mission is not None else getattr(env, "mission", ""))


def _describe_ale(obs: Any, env: gym.Env) -> str:
    lives = int(env.ale.lives())
    return f"Lives: {lives}." if lives > 0 else ""  # games without lives (Pong) report 0


_GRID_DIRECTIONS = {"up": "up", "down": "down", "left": "left", "right": "right"}

FROZEN_LAKE = GameInfo(
    ActionNames(("left", "down", "right", "up"), directions=_GRID_DIRECTIONS),
    task="Walk across the frozen lake from the start (S) to the goal (G) without falling into a hole (H).",
    describe=_describe_grid,
    success=_reached_with_reward,
)
CLIFF_WALKING = GameInfo(
    ActionNames(("up", "right", "down", "left"), directions=_GRID_DIRECTIONS),
    task="Walk from the start (bottom left) to the goal (bottom right) without stepping off the cliff.",
    describe=_describe_grid,
    success=_terminated,  # the goal is CliffWalking's only terminal state
)
TAXI = GameInfo(
    ActionNames(
        ("down", "up", "right", "left", "pickup", "dropoff"),
        aliases={"south": "down", "north": "up", "east": "right", "west": "left", "drop off": "dropoff",
                 "drop": "dropoff", "pick": "pickup"},
        directions=_GRID_DIRECTIONS,
    ),
    task="Drive the taxi to the passenger, pick them up, and drop them off at the destination.",
    describe=_describe_taxi,
    success=_terminated,  # Taxi terminates only on a legal drop-off at the destination
)
BLACKJACK = GameInfo(
    ActionNames(("stick", "hit"), aliases={"stand": "stick", "stay": "stick", "draw": "hit"}),
    task="Beat the dealer at blackjack: get a hand closer to 21 than the dealer's without going over.",
    describe=_describe_blackjack,
    success=_reached_with_reward,
)


def _minigrid_info(env: gym.Env) -> GameInfo:
    from minigrid.core.actions import Actions

    names = tuple(a.name for a in sorted(Actions, key=lambda a: a.value))
    # MiniGrid turns the agent; "left" is a turn, not a step left on screen, so there are no directions.
    aliases = {"turn left": "left", "turn right": "right", "move forward": "forward", "go forward": "forward",
               "pick up": "pickup", "open": "toggle"}
    return GameInfo(
        ActionNames(names, aliases={k: v for k, v in aliases.items() if v in names}),
        task=lambda env: str(getattr(env, "mission", "")),  # a new mission each episode
        describe=_describe_minigrid,
        success=_reached_with_reward,
    )


def _ale_info(env: gym.Env) -> GameInfo:
    meanings = tuple(env.get_action_meanings())
    game = str(getattr(env, "_game", "") or "the game").replace("_", " ").title()
    # ALE's UP/RIGHT/... name joystick moves; what they do on screen depends on the game (Pong's RIGHT
    # moves the paddle up), so they are choices, not screen directions.
    aliases = {"none": "NOOP", "nothing": "NOOP", "shoot": "FIRE"}
    return GameInfo(
        ActionNames(meanings, aliases={k: v for k, v in aliases.items() if v in meanings}),
        task=f"Play {game} and score as many points as you can.",
        describe=_describe_ale,
    )


def game_info(env: gym.Env) -> GameInfo | None:
    """What vlagent knows about ``env`` (wrapped or not), or ``None`` for an env it has no table for.

    Example:
        >>> env = gym.make("FrozenLake-v1")
        >>> game_info(env).names.names
        ('left', 'down', 'right', 'up')
    """
    from gymnasium.envs.toy_text import BlackjackEnv, CliffWalkingEnv, FrozenLakeEnv, TaxiEnv

    inner = env.unwrapped
    fixed: tuple[tuple[type, GameInfo], ...] = (
        (FrozenLakeEnv, FROZEN_LAKE), (CliffWalkingEnv, CLIFF_WALKING), (TaxiEnv, TAXI), (BlackjackEnv, BLACKJACK),
    )
    for cls, info in fixed:
        if isinstance(inner, cls):
            return info
    module = type(inner).__module__
    if module.startswith("minigrid"):
        return _minigrid_info(inner)
    if callable(getattr(inner, "get_action_meanings", None)):
        return _ale_info(inner)
    return None

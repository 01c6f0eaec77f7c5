"""Evaluation suites: what ``vlagent eval --suite`` takes, turned into a deterministic list of episodes.

``--suite`` is a comma-separated list whose items are any of

- a suite name: ``synthetic`` (every synthetic app at desktop, 4K and phone sizes), ``gym`` (FrozenLake,
  Blackjack, MiniGrid, Taxi, an ALE game), ``miniwob`` (click and typing tasks the MiniWoB++ oracle knows)
  or ``robot`` (every MuJoCo tabletop task at two camera sizes);
- an env spec ``KIND:ARG`` (``gym:ALE/Pong-v5``, ``miniwob:click-dialog``, ``synthetic:login``): that env
  with its own task, grouped under its kind in the summary;
- a suite file ``PATH.toml`` listing env specs with their keywords, tasks, seeds and step limits (format
  below and in the README).

A name or an env spec gives ``--episodes N`` episodes (default one per env combination): the first N of
its cycle, combination ``k % len`` with seed ``seed + k // len``. A file gives exactly the episodes it
lists; ``--episodes N`` keeps its first N.

A suite file::

    name = "smoke"            # summary row and episode-id prefix (default: the file's stem)
    seeds = [0, 1]            # default for every entry (default [0])
    max_steps = 20            # default for every entry (default: the command's --max-steps)

    [[env]]
    spec = "gym:FrozenLake-v1"
    kwargs = { map_name = "8x8" }
    max_steps = 40

    [[env]]
    spec = "synthetic:login"
    kwargs = { size = "phone" }
    task = "Sign in"          # default: the env's own task
    seeds = [3]
    label = "login-phone"     # names the entry in episode ids (default: the env's name and size)
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vlagent.actions.errors import EnvError
from vlagent.agent.errors import SuiteError

SYNTHETIC_SIZES: tuple[str, ...] = ("desktop", "4k", "phone")
#: The gym suite: env id and a step limit where the game's own end is far away (ALE runs to thousands of
#: frames; with random play Breakout's five lives last about 200 steps, so 100 steps see two or three).
GYM_GAMES: tuple[tuple[str, int | None], ...] = (
    ("FrozenLake-v1", None),
    ("Blackjack-v1", None),
    ("MiniGrid-Empty-5x5-v0", None),
    ("Taxi-v4", None),
    ("ALE/Breakout-v5", 100),
)
#: Camera sizes of the robot suite (``size`` keyword of ``robot:TASK``).
ROBOT_SIZES: tuple[str, ...] = ("640x480", "1280x720")
MINIWOB_TASKS: tuple[str, ...] = (
    "click-test", "click-test-2", "click-button", "click-link", "click-dialog", "focus-text", "enter-text",
    "enter-password", "login-user", "click-checkboxes",
)


@dataclass(frozen=True)
class EpisodeSpec:
    """One episode of a suite; ``max_steps`` ``None`` means the evaluation's default.

    Example:
        >>> EpisodeSpec("synthetic", "synthetic:login", {"size": "phone"}, "", 3).episode_id
        'synthetic-login-phone-s3'
    """

    suite: str
    env: str
    env_kwargs: dict[str, Any] = field(default_factory=dict, hash=False)
    task: str = ""
    seed: int = 0
    max_steps: int | None = None
    label: str | None = None

    @property
    def episode_id(self) -> str:
        """``suite-name[-size]-sSEED``, a folder name: unique within a suite for distinct env, size and seed."""
        if self.label:
            parts = [self.suite, self.label, f"s{self.seed}"]
        else:
            name = self.env.split(":", 1)[-1]
            size = self.env_kwargs.get("size")
            if isinstance(size, list | tuple):  # a custom size, [640, 480]: "640x480"
                size = "x".join(str(v) for v in size)
            parts = [self.suite, name] + ([str(size)] if size else []) + [f"s{self.seed}"]
        return "-".join(parts).replace("/", "_").replace(":", "_").replace(" ", "_")


@dataclass(frozen=True)
class _Combo:
    """One env of a named suite or env-spec item: the episodes cycle through these, then through seeds."""

    env: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_steps: int | None = None


def _synthetic() -> list[_Combo]:
    from vlagent.envs.synthetic import APPS

    # Size-major, so that `--episodes 5` covers every app (at desktop size), not one app at every size.
    return [_Combo(f"synthetic:{app}", {"size": size}) for size in SYNTHETIC_SIZES for app in sorted(APPS)]


def _gym() -> list[_Combo]:
    return [_Combo(f"gym:{game}", {}, limit) for game, limit in GYM_GAMES]


def _miniwob() -> list[_Combo]:
    return [_Combo(f"miniwob:{task}") for task in MINIWOB_TASKS]


def _robot() -> list[_Combo]:
    from vlagent.envs.robot.tasks import TASKS as ROBOT_TASKS  # imports no mujoco

    return [_Combo(f"robot:{task}", {"size": size}) for size in ROBOT_SIZES for task in ROBOT_TASKS]


#: The named suites; ``--suite`` takes these names.
NAMED_SUITES: dict[str, Callable[[], list[_Combo]]] = {
    "synthetic": _synthetic, "gym": _gym, "miniwob": _miniwob, "robot": _robot,
}
SUITES: tuple[str, ...] = tuple(NAMED_SUITES)


def _cycle(suite: str, combos: list[_Combo], episodes: int | None, seed: int) -> list[EpisodeSpec]:
    n = len(combos) if episodes is None else episodes
    out = []
    for k in range(n):
        c = combos[k % len(combos)]
        out.append(EpisodeSpec(suite, c.env, dict(c.kwargs), "", seed + k // len(combos), c.max_steps))
    return out


def _check_episodes(episodes: int | None) -> None:
    if episodes is not None and episodes < 1:
        raise SuiteError(f"episodes must be >= 1, got {episodes}")


def build_suite(name: str, episodes: int | None = None, *, seed: int = 0) -> list[EpisodeSpec]:
    """The first ``episodes`` specs of the named suite ``name`` (default: one per env combination).

    Example:
        >>> [s.episode_id for s in build_suite("gym", 6)][-1]
        'gym-FrozenLake-v1-s1'
    """
    _check_episodes(episodes)
    if name not in NAMED_SUITES:
        raise SuiteError(_unknown(name))
    return _cycle(name, NAMED_SUITES[name](), episodes, seed)


def env_spec_suite(spec: str, episodes: int | None = None, *, seed: int = 0) -> list[EpisodeSpec]:
    """``episodes`` seeds (default one) of one env spec, grouped under its kind.

    Example:
        >>> [s.episode_id for s in env_spec_suite("gym:ALE/Pong-v5", 2)]
        ['gym-ALE_Pong-v5-s0', 'gym-ALE_Pong-v5-s1']
    """
    _check_episodes(episodes)
    parsed = _parse_spec(spec, where=f"--suite item {spec!r}")
    return _cycle(parsed.kind, [_Combo(str(parsed))], episodes, seed)


def _parse_spec(spec: str, *, where: str, task: str = "") -> Any:
    """The parsed spec; a desktop or a phone (no task of its own) only with a task."""
    from vlagent.envs.registry import KINDS, EnvSpec

    try:
        parsed = EnvSpec.parse(spec)
    except EnvError as exc:
        raise SuiteError(f"{where}: {exc}") from exc
    if not task.strip() and not KINDS[parsed.kind].own_task:
        raise SuiteError(f"{where}: {parsed.kind} has no task of its own; list it in a suite file with a task")
    return parsed


class _FileEntry(BaseModel):
    """One ``[[env]]`` table of a suite file."""

    model_config = ConfigDict(extra="forbid")

    spec: str
    kwargs: dict[str, Any] = Field(default_factory=dict)
    task: str = ""
    seeds: list[int] | None = Field(default=None, min_length=1)
    max_steps: int | None = Field(default=None, ge=1)
    label: str | None = Field(default=None, min_length=1)


class _SuiteFile(BaseModel):
    """A whole suite file: its defaults and its ``[[env]]`` entries."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1)
    seeds: list[int] = Field(default=[0], min_length=1)
    max_steps: int | None = Field(default=None, ge=1)
    env: list[_FileEntry] = Field(min_length=1)


def load_suite_file(path: str | Path, episodes: int | None = None) -> list[EpisodeSpec]:
    """The episodes a TOML suite file lists (every entry at each of its seeds), or its first ``episodes``.

    Raises :class:`SuiteError` naming the file and the entry for a file that does not read, is not TOML,
    has an unknown key or a bad value, or asks for a spec that does not parse.
    """
    _check_episodes(episodes)
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SuiteError(f"cannot read suite file {str(path)!r}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SuiteError(f"suite file {str(path)!r} is not TOML: {exc}") from exc
    try:
        suite = _SuiteFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise SuiteError(f"suite file {str(path)!r}: {where}: {first['msg']}") from exc
    name = suite.name or path.stem
    out: list[EpisodeSpec] = []
    for i, entry in enumerate(suite.env):
        where = f"suite file {str(path)!r}: env.{i}"
        parsed = _parse_spec(entry.spec, where=where, task=entry.task)
        for seed in entry.seeds or suite.seeds:
            out.append(EpisodeSpec(name, str(parsed), dict(entry.kwargs), entry.task, seed,
                                   entry.max_steps or suite.max_steps, entry.label))
    if episodes is not None:
        if episodes > len(out):
            raise SuiteError(f"suite file {str(path)!r} lists {len(out)} episode(s); --episodes {episodes} asks for more")
        out = out[:episodes]
    return out


def _unknown(item: str) -> str:
    return (f"unknown suite {item!r}; use {', '.join(SUITES)}, an env spec KIND:ARG (gym:ALE/Pong-v5) or a "
            "suite file PATH.toml, comma-separated for several")


def _items(text: str) -> Iterable[str]:
    return (item.strip() for item in text.split(",") if item.strip())


def suite_item(item: str, episodes: int | None = None, *, seed: int = 0) -> list[EpisodeSpec]:
    """One ``--suite`` item: a suite name, a ``.toml`` suite file or an env spec."""
    if item in NAMED_SUITES:
        return build_suite(item, episodes, seed=seed)
    if item.lower().endswith(".toml"):
        return load_suite_file(item, episodes)
    if ":" in item:
        return env_spec_suite(item, episodes, seed=seed)
    raise SuiteError(_unknown(item))


def build_suites(text: str, episodes: int | None = None, *, seed: int = 0) -> list[EpisodeSpec]:
    """Every item of a comma-separated ``--suite``, in order; ``episodes`` applies to each.

    Example:
        >>> [s.env for s in build_suites("gym:ALE/Pong-v5,synthetic:login")]
        ['gym:ALE/Pong-v5', 'synthetic:login']
    """
    out: list[EpisodeSpec] = []
    for item in _items(text):
        out.extend(suite_item(item, episodes, seed=seed))
    if not out:
        raise SuiteError("no suite named")
    return out


def suite_slug(text: str) -> str:
    """``--suite`` as a folder-name part (a file by its stem).

    Example:
        >>> suite_slug("gym,miniwob:click-dialog,suites/smoke.toml")
        'gym+miniwob_click-dialog+smoke'
    """
    parts = [Path(i).stem if i.lower().endswith(".toml") else i for i in _items(text)]
    return "+".join(parts).replace("/", "_").replace(":", "_").replace(" ", "_")

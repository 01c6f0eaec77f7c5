"""Trajectories on disk: one folder per episode, written as the episode runs.

::

    EPISODE/
      meta.json              EpisodeMeta: model, profile, backend options, env, geometry, versions, outcome
      steps.jsonl            one StepRecord per line (the prompt as sent included), flushed after every step
      step_000.png           the screenshot the model saw at step 0
      step_000_annotated.png the same with the action drawn on it
      final.png              the screen when the episode ended

``steps.jsonl`` is appended and flushed after each step, so a crash loses at most the step in flight and
the file can be read while the episode runs. ``meta.json`` is written at the start (``ended`` empty) and
rewritten atomically at the end.

PNG encoding is the costliest part of recording (30-40 ms per 1920x1080 image, plus drawing the annotated
copy), so by default the loop only queues a step's images and a writer process at a lower OS priority
encodes them: on a 2-core machine the loop's own work, the model call included, runs first and the
encoding fills the idle time (a process, because an encoding thread holds the GIL between zlib calls). No step waits for an earlier step's images; only
``close`` waits for the episode's. Each PNG is written to a temporary name and renamed when complete,
so a file that exists is whole. A kill -9 therefore loses at most the images still queued or being
encoded; their steps are in ``steps.jsonl`` and the report marks their screenshots as never written.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.metadata
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageChops
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticSerializationError

from vlagent.actions.models import Action
from vlagent.agent.annotate import annotate
from vlagent.agent.errors import TrajectoryError
from vlagent.agent.prompt_record import PromptRecord
from vlagent.model.chat import escape_surrogates

#: Why an episode stopped.
StopReason = Literal[
    "finished",      # the model said the task is done
    "fail",          # the model gave up
    "terminated",    # the env ended the episode (goal reached, game over)
    "truncated",     # the env's own time limit
    "max_steps",     # the loop's step budget ran out
    "loop",          # the same action kept leaving the screen unchanged
    "errors",        # too many replies in a row could not be executed
    "call_user",     # the model asked for a human and nobody could answer
    "interrupted",   # Ctrl+C or the stop hotkey
    "time_limit",    # the episode's wall-clock limit (--time-limit) ran out; counts as a failure
    "model_error",   # the backend failed
    "env_error",     # the env failed
    "crashed",       # a bug in vlagent or an extension; the error is in meta.json
]
PNG_COMPRESS_LEVEL = 1  # fast: screenshots are flat GUI images and compress well anyway
_VERSION_PACKAGES = ("vlagent", "torch", "transformers", "pillow", "numpy", "gymnasium", "pydantic", "openai")


_WRITER: Executor | None = None
_WRITER_LOCK = threading.Lock()
#: Steps' image jobs one episode may have queued before its loop waits (each holds a screenshot).
MAX_PENDING_IMAGE_JOBS = 16
#: The writer's niceness: below the loop (CFS gives a nice-10 process ~10% against a nice-0 one), not so
#: low that a machine busy with other work starves it and ``close`` waits for minutes.
WRITER_NICENESS = 10


def _start_writer(parent: int) -> None:
    """In the writer process: a lower priority, deaf to Ctrl+C, and an exit as soon as the loop's process is gone.

    A forked worker holds its own end of the job pipe, so it would never see the parent's death on its
    own: without the watchdog a kill -9 of the loop would leave it waiting forever.
    """
    try:
        os.nice(WRITER_NICENESS)
    except (AttributeError, OSError):
        pass
    # Ctrl+C reaches the whole process group: the loop stops after its step and closes the episode, which
    # waits for these images; the writer must not die of the same signal first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch, name="vlagent-png-watchdog", daemon=True).start()


def _image_writer() -> Executor:
    """The process that encodes every recorder's PNGs, started on first use (fork: no re-import of ``__main__``).

    A process, not a thread: Pillow's encoder holds the GIL between its zlib calls, so an encoding thread
    slowed the loop's own Python work several-fold; the process costs the loop one pickled frame (a
    memory copy) per image. One worker: on a 2-core machine a second encoder would compete with the loop.
    """
    global _WRITER
    with _WRITER_LOCK:
        if _WRITER is None:
            workers = max(1, min(2, (os.cpu_count() or 1) - 1))
            try:
                _WRITER = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                                              initializer=_start_writer, initargs=(os.getpid(),))
            except (OSError, ValueError):  # no fork here (or no processes allowed): a thread still helps
                _WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlagent-png")
        return _WRITER


def _write_step_images(folder: str, shot: str, screenshot: Image.Image, annotated: str | None,
                       drawn: list[Action], error: str | None) -> None:
    """Encode one step's screenshot and its annotated copy (runs in the writer)."""
    save_png(screenshot, Path(folder) / shot)
    if annotated is not None:
        save_png(annotate(screenshot, drawn, error=error), Path(folder) / annotated)


def save_png(image: Image.Image, path: Path) -> None:
    """Write ``image`` as a PNG at ``path``, whole or not at all (temporary name, then an atomic rename)."""
    tmp = path.with_name(path.name + ".part")
    image.save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    os.replace(tmp, path)


def now() -> str:
    """The current UTC time, ISO-8601."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@functools.cache
def package_versions() -> dict[str, str]:
    """Versions of the packages that change results (read from metadata, nothing imported)."""
    out: dict[str, str] = {}
    for name in _VERSION_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def json_safe(value: Any, *, depth: int = 0) -> Any:
    """``value`` made JSON-serialisable: models dumped, numpy unwrapped, images and the unknown described.

    Example:
        >>> json_safe({"a": np.int64(3), "b": (1.5, float("nan")), "c": Image.new("RGB", (4, 2))})
        {'a': 3, 'b': [1.5, None], 'c': '<image 4x2>'}
    """
    if depth > 8:
        return repr(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, np.generic):
        return json_safe(value.item(), depth=depth + 1)
    if isinstance(value, np.ndarray):
        if value.size <= 64:
            return json_safe(value.tolist(), depth=depth + 1)
        return f"<array shape={list(value.shape)} dtype={value.dtype}>"
    if isinstance(value, Image.Image):
        return f"<image {value.width}x{value.height}>"
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, depth=depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v, depth=depth + 1) for v in value]
    return repr(value)


def same_screen(a: Image.Image, b: Image.Image) -> bool:
    """Whether two screenshots have identical pixels (a C-level diff: ~3 ms at 1920x1080, ~12 ms at 4K).

    Example:
        >>> a = Image.new("RGB", (4, 4)); b = a.copy(); b.putpixel((3, 3), (0, 0, 1))
        >>> same_screen(a, a.copy()), same_screen(a, b)
        (True, False)
    """
    if a is b:
        return True
    if a.size != b.size or a.mode != b.mode:
        return False
    return ImageChops.difference(a, b).getbbox() is None


class StepTimings(BaseModel):
    """Seconds spent in each phase of one step.

    ``capture``: the env producing the screenshot this step's prompt shows (its ``info["timings"]["capture"]``
    from the ``reset`` or ``step`` that returned it); ``preprocess``: building the prompt plus the backend's
    own image preprocessing; ``model``: prefill and decoding; ``parse``: parsing and coordinate conversion;
    ``execute``: the env performing the actions (the ``env.step`` wall time minus the capture of the frame
    it returned and minus ``settle``); ``settle``: the env waiting for the screen to stop changing after the
    actions; ``record``: writing screenshots. Records written before ``settle`` existed load with 0.0.

    Example:
        >>> StepTimings(model=1.5, execute=0.25).total
        1.75
    """

    model_config = ConfigDict(extra="forbid")

    capture: float = 0.0
    preprocess: float = 0.0
    model: float = 0.0
    parse: float = 0.0
    execute: float = 0.0
    settle: float = 0.0
    record: float = 0.0

    @property
    def total(self) -> float:
        return self.capture + self.preprocess + self.model + self.parse + self.execute + self.settle + self.record

    @property
    def overhead(self) -> float:
        """Everything but the model."""
        return self.total - self.model


class ActionRecord(BaseModel):
    """One parsed action: as the model wrote it, in screen pixels, and what became of it.

    Example:
        >>> from vlagent.actions.models import Wait
        >>> ActionRecord(model=Wait(), executed=False, skipped="dry-run").summary
        'wait 1s'
    """

    model_config = ConfigDict(extra="forbid")

    model: Action = Field(description="the action in the model's coordinate space")
    screen: Action | None = Field(default=None, description="the same with points in screen pixels")
    executed: bool = False
    skipped: str | None = Field(default=None, description="why it did not run: dry-run, refused, episode ended")
    reward: float = 0.0
    answer: str | None = Field(default=None, description="call_user: what the user answered")

    @property
    def summary(self) -> str:
        from vlagent.agent.describe import describe

        return describe(self.screen or self.model)


class ErrorRecord(BaseModel):
    """An error the step hit: its class name and message (fed back to the model for ActionErrors).

    Example:
        >>> ErrorRecord.of(ValueError("bad")).model_dump()
        {'type': 'ValueError', 'message': 'bad', 'fed_back': True}
    """

    model_config = ConfigDict(extra="forbid")

    type: str
    message: str
    fed_back: bool = True

    @classmethod
    def of(cls, exc: BaseException, *, fed_back: bool = True) -> ErrorRecord:
        return cls(type=type(exc).__name__, message=str(exc), fed_back=fed_back)


class StepContext(BaseModel):
    """What the env put in this step's prompt besides the screenshots, so training rebuilds the same prompt.

    A desktop, a phone or a MiniWoB++ page cannot be replayed to find out afterwards which actions it
    offered, which named options it listed or what text it showed (a MiniWoB utterance), and the text
    changes from step to step; the loop records them as it builds the prompt.

    Example:
        >>> StepContext(supported=["click", "type"], text="Click the OK button.").supported
        ['click', 'type']
    """

    model_config = ConfigDict(extra="forbid")

    supported: list[str] = Field(default_factory=list, description="the action types the env performed at this step")
    options: list[str] = Field(default_factory=list, description="the env's named options (gym games)")
    text: str = Field(default="", description="the env's text for the prompt, secrets masked")


class StepRecord(BaseModel):
    """One model call and what followed it: one line of ``steps.jsonl``.

    Example:
        >>> StepRecord(index=0, raw="Action: wait()", screenshot="step_000.png").ok
        True
    """

    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0)
    time: str = Field(default_factory=now)
    raw: str
    thought: str | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = Field(default_factory=dict)
    timings: StepTimings = Field(default_factory=StepTimings)
    error: ErrorRecord | None = None
    screenshot: str
    annotated: str | None = None
    screen_changed: bool | None = Field(default=None, description="whether the actions changed the screen")
    tokens: dict[str, int] = Field(default_factory=dict)
    prompt: PromptRecord | None = Field(default=None, description="the chat as sent (system prompt in meta)")
    context: StepContext | None = Field(default=None, description="what the env added to the prompt (for training)")

    @property
    def ok(self) -> bool:
        return self.error is None


class EpisodeMeta(BaseModel):
    """Everything needed to understand (and replay) an episode, written to ``meta.json``.

    Example:
        >>> EpisodeMeta(episode_id="e", task="Sign in", env="synthetic:login").done
        False
    """

    model_config = ConfigDict(extra="forbid")

    episode_id: str
    task: str
    suite: str | None = None
    env: str = Field(description="the env spec, as `vlagent run --env` takes it")
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = Field(default=None, description="the env's reset seed (drawn when none was given)")
    family: str = "desktop"
    model: str = ""
    backend: str = ""
    backend_options: dict[str, Any] = Field(default_factory=dict)
    profile: str = ""
    geometry: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = False
    versions: dict[str, str] = Field(default_factory=package_versions)
    started: str = Field(default_factory=now)
    ended: str | None = None
    outcome: StopReason | None = None
    success: bool | None = None
    total_reward: float = 0.0
    steps: int = 0
    errors: int = Field(default=0, description="steps whose reply could not be executed")
    parse_errors: int = 0
    error: ErrorRecord | None = None
    answer: str | None = None
    system_prompt: str | None = Field(default=None, description="the system prompt every step was sent")
    secrets: list[str] = Field(default_factory=list, description="names of the secrets masked (never values)")

    @property
    def done(self) -> bool:
        return self.ended is not None


def screenshot_name(index: int) -> str:
    """The file of the screenshot the model saw at step ``index``."""
    return f"step_{index:03d}.png"


def annotated_name(index: int) -> str:
    """The file of step ``index``'s screenshot with its actions drawn on it."""
    return f"step_{index:03d}_annotated.png"


def _escape_strings(value: Any) -> Any:
    """``value`` (a model dump) with every string, keys included, passed through :func:`escape_surrogates`."""
    if isinstance(value, str):
        return escape_surrogates(value)
    if isinstance(value, dict):
        return {_escape_strings(k): _escape_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escape_strings(v) for v in value]
    return value


def to_json(record: BaseModel, *, indent: int | None = None) -> str:
    r"""``record`` as JSON; text UTF-8 cannot encode (lone surrogates) is written escaped instead of failing.

    A reply can carry a lone surrogate (a server's ``"\ud800"``) and so can a task typed as bytes that are
    not UTF-8; neither may cost the trajectory. The escape keeps what arrived readable.

    Example:
        >>> to_json(ErrorRecord(type="X", message="bad \ud800"))
        '{"type":"X","message":"bad \\\\ud800","fed_back":true}'
    """
    try:
        return record.model_dump_json(indent=indent)
    except PydanticSerializationError:
        escaped = type(record).model_validate(_escape_strings(record.model_dump()))
        return escaped.model_dump_json(indent=indent)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class EpisodeRecorder:
    """Writes one episode's folder step by step.

    Example:
        >>> import tempfile
        >>> rec = EpisodeRecorder(Path(tempfile.mkdtemp()) / "ep", EpisodeMeta(episode_id="ep", task="t", env="x"))
        >>> step = rec.save_images(StepRecord(index=0, raw="wait()", screenshot=""), Image.new("RGB", (8, 8)))
        >>> rec.write_step(step)
        >>> step.screenshot
        'step_000.png'
        >>> rec.close(outcome="finished", success=True).outcome
        'finished'
        >>> load_episode(rec.path)[0].outcome, len(load_episode(rec.path)[1])
        ('finished', 1)
    """

    def __init__(
        self, path: Path, meta: EpisodeMeta, *, annotate_images: bool = True, background_images: bool = True
    ) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.meta = meta
        self.annotate_images = annotate_images
        self.background_images = background_images
        self._pending: list[Future[None]] = []
        self._steps = (self.path / "steps.jsonl").open("w", encoding="utf-8")
        _write_atomic(self.path / "meta.json", to_json(meta, indent=2))

    def save_images(self, record: StepRecord, screenshot: Image.Image) -> StepRecord:
        """Queue (or write) the step's screenshot and its annotated copy; returns the record with their names.

        The names are in the record at once, so its ``steps.jsonl`` line can be flushed before the PNGs
        exist. A write that failed earlier in the episode is raised here (or by :meth:`close`).
        """
        shot = screenshot_name(record.index)
        annotated = annotated_name(record.index) if self.annotate_images else None
        drawn = [a.screen or a.model for a in record.actions]
        error = f"{record.error.type}: {record.error.message}" if record.error else None

        job = (str(self.path.absolute()), shot, screenshot, annotated, drawn, error)
        self._collect_finished()
        if self.background_images:
            if len(self._pending) >= MAX_PENDING_IMAGE_JOBS:  # the writer fell far behind: let it catch up
                self._pending.pop(0).result()
            self._pending.append(_image_writer().submit(_write_step_images, *job))
        else:
            _write_step_images(*job)
        return record.model_copy(update={"screenshot": shot, "annotated": annotated})

    def _collect_finished(self) -> None:
        """Forget the jobs that are done, re-raising the first that failed."""
        still = []
        for job in self._pending:
            if job.done():
                job.result()
            else:
                still.append(job)
        self._pending = still

    def wait_images(self) -> None:
        """Block until every queued image of this episode is on disk (re-raising a write error)."""
        pending, self._pending = self._pending, []
        for job in pending:
            job.result()

    def write_step(self, record: StepRecord) -> None:
        """Append one line to ``steps.jsonl`` and flush it to the OS."""
        self._steps.write(to_json(record) + "\n")
        self._steps.flush()

    def close(self, *, final_screen: Image.Image | None = None, **updates: Any) -> EpisodeMeta:
        """Write ``final.png`` and the finished ``meta.json`` (``ended`` set, plus ``updates``)."""
        self.wait_images()
        if final_screen is not None:
            save_png(final_screen, self.path / "final.png")
        self.meta = self.meta.model_copy(update={"ended": now(), **updates})
        EpisodeMeta.model_validate(self.meta.model_dump())  # refuse to write a meta that would not read back
        self._steps.close()
        _write_atomic(self.path / "meta.json", to_json(self.meta, indent=2))
        return self.meta


def _read_text(file: Path) -> str:
    """A trajectory file's text, or a :class:`TrajectoryError` saying why a user's folder cannot be read.

    vlagent writes these files as UTF-8; other bytes mean the file was edited or damaged, and a folder or an
    unreadable file in its place is no trajectory either: each is one line for the user, not a traceback.
    """
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = file.read_bytes()[: exc.start].count(b"\n") + 1
        raise TrajectoryError(f"{file.name} is not UTF-8 ({file}:{line}: {exc.reason}); it was not written by vlagent "
                              "or was damaged") from exc
    except IsADirectoryError as exc:
        raise TrajectoryError(f"{file.name} is a directory, not a file: {file}") from exc
    except OSError as exc:
        raise TrajectoryError(f"cannot read {file}: {exc.strerror or exc}") from exc


def read_steps(path: Path) -> list[StepRecord]:
    """The step records of an episode folder; a torn last line (a crash mid-write) is left out."""
    file = Path(path) / "steps.jsonl"
    if not file.exists():
        raise TrajectoryError(f"no steps.jsonl in {path}")
    lines = _read_text(file).splitlines()
    out: list[StepRecord] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(StepRecord.model_validate_json(line))
        except ValueError as exc:
            if i == len(lines) - 1:
                break  # the step in flight when the process died
            raise TrajectoryError(f"{file}:{i + 1}: not a step record: {exc}") from exc
    return out


def read_meta(path: Path) -> EpisodeMeta:
    file = Path(path) / "meta.json"
    if not file.exists():
        raise TrajectoryError(f"no meta.json in {path}: not an episode folder")
    text = _read_text(file)
    try:
        return EpisodeMeta.model_validate_json(text)
    except ValueError as exc:
        raise TrajectoryError(f"{file} does not read back: {exc}") from exc


def load_episode(path: Path) -> tuple[EpisodeMeta, list[StepRecord]]:
    """``(meta, steps)`` of one episode folder."""
    return read_meta(path), read_steps(path)


def find_episodes(root: Path) -> list[Path]:
    """Episode folders under ``root`` (``root`` itself when it is one), sorted by path."""
    root = Path(root)
    if not root.exists():
        raise TrajectoryError(f"{root} does not exist")
    if (root / "meta.json").exists():
        return [root]
    return sorted(p.parent for p in root.rglob("meta.json"))

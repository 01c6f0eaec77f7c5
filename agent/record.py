"""Recording a person's demonstration as a trajectory folder, the format the agent writes and ``report`` reads.

::

    source thread(s)  X RECORD (envs/record_x11.py) or getevent (envs/record_android.py) -> input events
    frame thread      FramePoller (envs/record_frames.py): the screen, polled, the last frames kept
    this loop         events -> DesktopGestures / TouchGestures (agent/gestures.py) -> typed actions
                      -> one step each, with the frame from just before the action's first event,
                         written by the same EpisodeRecorder the agent uses (agent/trajectory.py)

Each step holds one action in screen pixels (``ActionRecord.model`` and ``.screen`` are the same: a person
has no model space), ``executed=True``, and ``info`` with ``source="human"``, when it started
(``seconds`` since the recording began), how long it took and the screenshot's age. The reply text
(``raw``) is written in a neutral form, the actions as JSON (:func:`neutral_reply`); :func:`render_reply`
re-expresses a step in any profile's reply format through that profile parser's ``format()``, so the
trainer learns from demonstrations as from the agent's own episodes. ``meta.json`` says ``model="human"``,
``backend="record"``, no profile.

The recording ends on Ctrl+C (SIGINT) or the stop hotkey (on a desktop; the combination itself is not
recorded); the actions still being built are completed, a last ``finished`` step on the final screen is
added (the person ended the demonstration there), and ``meta.json`` is closed with outcome ``finished``.

Which input is recorded: everything the display or phone receives, synthetic input included, except, on a
desktop, the input of vlagent's own desktop env, which marks its X connection as the agent's (exactly,
event by event, in this process or another; see :mod:`vlagent.envs.record_x11`). On a phone the agent's
``input`` commands enter Android's input framework above the kernel devices ``getevent`` reads, so they
are not recorded either.
"""

from __future__ import annotations

import io
import json
import queue
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from vlagent.actions.coords import Geometry
from vlagent.actions.models import Action, ActionListAdapter, Finished
from vlagent.agent.gestures import DesktopGestures, Gesture, TouchGestures
from vlagent.agent.safety import StopFlag
from vlagent.agent.scripted import to_model_space
from vlagent.agent.trajectory import (
    ActionRecord,
    EpisodeMeta,
    EpisodeRecorder,
    ErrorRecord,
    StepRecord,
)
from vlagent.envs.errors import RecorderError
from vlagent.envs.record_frames import Frame, FramePoller

#: ``meta.model`` and ``meta.backend`` of a recorded demonstration.
HUMAN_MODEL, RECORD_BACKEND = "human", "record"


def neutral_reply(actions: list[Action]) -> str:
    """The reply text of a recorded step: its actions (screen pixels) as JSON, no profile's format.

    Example:
        >>> from vlagent.actions.models import Key
        >>> neutral_reply([Key(name="esc")])
        '{"actions": [{"type": "key", "name": "esc"}]}'
    """
    return json.dumps({"actions": ActionListAdapter.dump_python(actions, mode="json", exclude_none=True)},
                      ensure_ascii=False)


def recorded_actions(step: StepRecord) -> list[Action]:
    """A recorded step's actions in screen pixels."""
    return [a.screen or a.model for a in step.actions]


def is_demonstration(meta: EpisodeMeta) -> bool:
    """Whether an episode folder holds a person's recording rather than a model's episode."""
    return meta.model == HUMAN_MODEL and meta.backend == RECORD_BACKEND


#: Arguments that say how much or how long, which many reply formats have no way to write.
_MAGNITUDES = ("duration", "amount")


def _default_magnitudes(action: Action) -> Action | None:
    """The action with its duration/amount at the defaults, or ``None`` when they already are."""
    fields = type(action).model_fields
    updates = {name: fields[name].default for name in _MAGNITUDES
               if name in fields and getattr(action, name) != fields[name].default}
    return action.model_copy(update=updates) if updates else None


def render_reply(step: StepRecord, profile: Any, size: tuple[int, int], thought: str | None = None) -> str:
    """A recorded step as ``profile``'s model would have written it (points in the profile's space).

    ``size`` is the screenshot's ``(width, height)`` (``meta.geometry``); the profile's pixel budget gives
    the resized image that ``resized`` spaces are measured in. A format without a duration or amount
    argument (Qwen2-VL's drag, ShowUI's scroll) gets the action with those at their defaults, which is
    what its model would have written; an action the format cannot express at all (a double click in
    ShowUI) raises the parser's ``UnsupportedActionError``, and the trainer leaves that step out.

    Example:
        >>> from vlagent.actions.coords import Point
        >>> from vlagent.actions.models import Drag
        >>> drag = Drag(start=Point(x=0, y=0, space="screen"), end=Point(x=399, y=0, space="screen"), duration=2.0)
        >>> step = StepRecord(index=0, raw="", actions=[ActionRecord(model=drag, screen=drag)], screenshot="s.png")
        >>> render_reply(step, "qwen2-vl", (800, 600))
        'drag(<|box_start|>(1,1)<|box_end|>, <|box_start|>(499,1)<|box_end|>)'
    """
    from vlagent.actions.errors import UnsupportedActionError

    if isinstance(profile, str):
        from vlagent.prompts import get_profile

        profile = get_profile(profile)
    parser = profile.make_parser()
    if parser.space == "resized":  # only this space needs smart_resize (which imports transformers)
        geometry = Geometry.for_image(size[0], size[1], min_pixels=profile.min_pixels, max_pixels=profile.max_pixels)
    else:
        geometry = Geometry(width=size[0], height=size[1], resized_width=size[0], resized_height=size[1])
    actions = [to_model_space(a, geometry, parser.space) for a in recorded_actions(step)]
    try:
        return parser.format(actions, thought=thought)
    except UnsupportedActionError:
        plain = [_default_magnitudes(a) or a for a in actions]
        if plain == actions:
            raise
        return parser.format(plain, thought=thought)


class DemonstrationWriter:
    """Writes gestures as steps of one episode folder (through :class:`EpisodeRecorder`).

    Example:
        >>> import tempfile
        >>> from vlagent.actions.models import Key
        >>> writer = open_demonstration(Path(tempfile.mkdtemp()), task="t", env="desktop", family="desktop",
        ...                             size=(64, 48), clock=lambda: 0.0)
        >>> screen = Image.new("RGB", (64, 48))
        >>> writer.write(Gesture(Key(name="esc"), 0.5, 0.5), screen, shot_at=0.4).info["screenshot_age"]
        0.1
        >>> meta = writer.close(screen, stopped_by="Ctrl+C", at=1.0)
        >>> meta.outcome, meta.steps, is_demonstration(meta)
        ('finished', 2, True)
    """

    def __init__(self, recorder: EpisodeRecorder, *, started: float) -> None:
        self.recorder = recorder
        self.started = started
        self.steps = 0
        #: Called with each step once written (the CLI shows the person what was recorded).
        self.on_step: Callable[[StepRecord], None] | None = None

    def write(self, gesture: Gesture, screenshot: Image.Image, *, shot_at: float, extra: dict[str, Any] | None = None
              ) -> StepRecord:
        info: dict[str, Any] = {
            "source": "human",
            "seconds": round(gesture.start - self.started, 3),
            "duration": round(gesture.end - gesture.start, 3),
            "screenshot_age": round(max(gesture.start - shot_at, 0.0), 3),
            **(extra or {}),
        }
        if gesture.modifiers:
            info["modifiers"] = sorted(gesture.modifiers)
        record = StepRecord(index=self.steps, raw=neutral_reply([gesture.action]),
                            actions=[ActionRecord(model=gesture.action, screen=gesture.action, executed=True)],
                            info=info, screenshot="")
        self.steps += 1
        record = self.recorder.save_images(record, screenshot)
        self.recorder.write_step(record)
        if self.on_step is not None:
            self.on_step(record)
        return record

    def close(self, final: Image.Image, *, stopped_by: str, at: float) -> EpisodeMeta:
        """Add the ``finished`` step on the final screen and close ``meta.json`` (outcome ``finished``)."""
        self.write(Gesture(Finished(), at, at), final, shot_at=at, extra={"stopped_by": stopped_by})
        return self.recorder.close(final_screen=final, outcome="finished", steps=self.steps)


class InputSource(Protocol):
    """Where the events come from: started before the recording, closed at its end; ``stream_error`` once broken.

    Example:
        >>> from vlagent.envs.record_android import GeteventRecorder
        >>> GeteventRecorder(phone=None, on_input=print).stream_error is None
        True
    """

    stream_error: BaseException | None

    def close(self) -> None: ...


@dataclass
class Recording:
    """One recording in progress: a source of events, their coalescer, the frame poller and the writer.

    Build it with :func:`desktop_recording` or :func:`android_recording`, then :meth:`run` until ``stop``.

    Example:
        >>> import tempfile
        >>> from vlagent.agent.trajectory import load_episode
        >>> from vlagent.envs.record_x11 import KeyEvent
        >>> poller = FramePoller(lambda: b"", decode=lambda data: Image.new("RGB", (64, 48)), interval=60).start()
        >>> writer = open_demonstration(Path(tempfile.mkdtemp()), task="t", env="desktop", family="desktop",
        ...                             size=(64, 48), clock=lambda: 0.0)
        >>> events = queue.Queue()
        >>> events.put(KeyEvent(time=1.0, press=True, key="esc"))
        >>> source = type("Source", (), {"stream_error": None, "close": lambda self: None})()
        >>> stop = StopFlag(); stop.request("the example")
        >>> meta = Recording(source, DesktopGestures(), poller, writer, events).run(stop)
        >>> [s.raw for s in load_episode(writer.recorder.path)[1]]
        ['{"actions": [{"type": "key", "name": "esc"}]}', '{"actions": [{"type": "finished"}]}']
    """

    source: InputSource
    gestures: DesktopGestures | TouchGestures
    poller: FramePoller
    writer: DemonstrationWriter
    events: queue.Queue[Any]
    clock: Callable[[], float] = time.monotonic
    also_close: Callable[[], None] = lambda: None

    def run(self, stop: StopFlag, *, idle: float = 0.05) -> EpisodeMeta:
        """Record until ``stop`` is requested (Ctrl+C, the stop hotkey, code); returns the closed meta."""
        pinned: dict[float, Frame] = {}
        try:
            self._record(stop, pinned, idle)
        except BaseException as exc:  # a broken stream, a second Ctrl+C: close the folder, then let it surface
            self.source.close()
            self.poller.close()
            self.also_close()
            outcome = "interrupted" if isinstance(exc, KeyboardInterrupt) else "env_error"
            final = self.poller.frames()[-1]
            self.writer.recorder.close(final_screen=self.poller.image(final), outcome=outcome,
                                       steps=self.writer.steps, error=ErrorRecord.of(exc, fed_back=False))
            raise
        self.source.close()
        final = self.poller.latest()
        self.poller.close()
        self.also_close()
        return self.writer.close(self.poller.image(final), stopped_by=stop.by or "a stop request", at=self.clock())

    def _record(self, stop: StopFlag, pinned: dict[float, Frame], idle: float) -> None:
        """Feed events to the coalescer and write what completes, until the stop; then finish what is left."""
        while not stop.requested:
            try:
                done = self.gestures.feed(self.events.get(timeout=idle))
            except queue.Empty:
                done = []
            self._write(done + self.gestures.tick(self.clock()), pinned)
            start = self.gestures.pending_start
            if start is not None and start not in pinned:  # keep the frame from before it begins
                pinned[start] = self.poller.before(start)
            if getattr(self.gestures, "stop_pressed", False):
                stop.request("the stop hotkey")
            for part in (self.source, self.poller):
                error = part.stream_error
                if error is not None:  # the display or phone went away
                    raise RecorderError(f"the recording broke: {type(error).__name__}: {error}") from error
        while True:  # what arrived before the stop still counts
            try:
                self._write(self.gestures.feed(self.events.get_nowait()), pinned)
            except queue.Empty:
                break
        self._write(self.gestures.flush(), pinned)

    def _write(self, gestures: list[Gesture], pinned: dict[float, Frame]) -> None:
        for g in gestures:
            frame = pinned.pop(g.start, None) or self.poller.before(g.start)
            self.writer.write(g, self.poller.image(frame), shot_at=frame.finished)


def open_demonstration(out: Path, *, task: str, env: str, family: str, size: tuple[int, int],
                       clock: Callable[[], float]) -> DemonstrationWriter:
    """A new episode folder under ``out`` for a recording, its ``meta.json`` already written."""
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in env)
    episode_id = f"{time.strftime('%Y%m%d-%H%M%S')}-record-{slug}-{uuid.uuid4().hex[:4]}"
    geometry = Geometry(width=size[0], height=size[1], resized_width=size[0], resized_height=size[1])
    meta = EpisodeMeta(episode_id=episode_id, task=task, env=env, family=family, model=HUMAN_MODEL,
                 backend=RECORD_BACKEND, profile="", geometry=geometry.model_dump())
    return DemonstrationWriter(EpisodeRecorder(Path(out) / episode_id, meta), started=clock())


def desktop_recording(out: Path, *, task: str = "", monitor: int = 1, display: str | None = None,
                      stop_hotkey: frozenset[str] | None = None, interval: float = 0.1,
                      clock: Callable[[], float] = time.monotonic) -> Recording:
    """A recording of X display ``display`` (default ``$DISPLAY``), monitor ``monitor`` (mss numbering)."""
    from vlagent.envs.desktop import _display_name
    from vlagent.envs.desktop_input import _xauthority_fallback
    from vlagent.envs.record_x11 import MonitorGrabber, X11InputRecorder

    name = _display_name(display)
    _xauthority_fallback()  # python-xlib, unlike libX11, refuses a server without a cookie file otherwise
    grabber = MonitorGrabber(name, monitor=monitor).open()
    events: queue.Queue[Any] = queue.Queue()
    gestures = DesktopGestures(ignore=[stop_hotkey] if stop_hotkey else ())
    poller = FramePoller(grabber.grab, decode=grabber.decode, interval=interval, clock=clock)
    listener = X11InputRecorder(name, on_input=events.put, origin=grabber.origin, size=grabber.size, clock=clock)
    try:
        poller.start()
        listener.start()
        spec = "desktop" if monitor == 1 else f"desktop:{monitor}"
        writer = open_demonstration(out, task=task, env=spec, family="desktop", size=grabber.size, clock=clock)
    except BaseException:
        listener.close()
        poller.close()
        grabber.close()
        raise
    return Recording(listener, gestures, poller, writer, events, clock=clock, also_close=grabber.close)


def _png(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")


def android_recording(out: Path, *, task: str = "", serial: str | None = None, adb_host: str = "127.0.0.1",
                      adb_port: int | None = None, timeout: float = 10.0, interval: float = 0.25,
                      clock: Callable[[], float] = time.monotonic) -> Recording:
    """A recording of the phone ``serial`` (``getevent`` for input, ``screencap`` for the screen)."""
    from vlagent.envs.adb_phone import AdbPhone
    from vlagent.envs.record_android import GeteventRecorder

    phone = AdbPhone(serial, adb_host, adb_port, timeout=timeout)
    events: queue.Queue[Any] = queue.Queue()
    source = GeteventRecorder(phone, on_input=events.put, clock=clock)
    poller = FramePoller(phone.screencap, decode=_png, interval=interval, clock=clock)
    poller.poll_once()
    size = poller.image(poller.frames()[-1]).size
    source.start()
    try:
        panel = source.size or size
        if size != panel:
            raise RecorderError(f"the phone's screen is {size[0]}x{size[1]} but its panel is {panel[0]}x{panel[1]}: "
                                "rotate it back to its natural orientation (touches are reported in the panel's axes)")
        poller.start()
        writer = open_demonstration(out, task=task, env=f"android:{phone.serial}", family="mobile", size=size,
                                    clock=clock)
    except BaseException:
        source.close()
        poller.close()
        raise
    return Recording(source, TouchGestures(), poller, writer, events, clock=clock)

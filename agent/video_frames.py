"""The frames an episode has seen, turned into the clip a prompt shows (``--video-frames``, ``--video-fps``).

Games and the robot are about motion: where the ball is going, whether the arm still moves. One frame
per observation is kept, an unchanged one too (a still screen is information), with the episode time it
was seen at. A clip is the last N frames up to the current screen; with a rate, it is the screen as it
was at N instants ``1/fps`` apart ending now (the latest frame seen by each instant, so a slow loop
repeats a frame rather than inventing one). Only frames of the current screen's size are used: a video
is one tensor, so a rotated phone starts a new clip.
"""

from __future__ import annotations

from collections import deque

from PIL import Image

from vlagent.model.chat import VideoPart


class FrameHistory:
    """The recent frames of one episode and the step file each was recorded as.

    Args:
        frames: frames per clip (N >= 2).
        fps: sample the clip at this rate; ``None`` takes the last N frames as they came.

    Example:
        >>> hist = FrameHistory(3)
        >>> shots = [Image.new("RGB", (8, 8), c) for c in ("red", "green", "blue", "white")]
        >>> for t, shot in enumerate(shots):
        ...     hist.add(float(t), shot)
        >>> clip = hist.clip(shots[-1])
        >>> [f.getpixel((0, 0)) for f in clip.frames], clip.timestamps
        ([(0, 128, 0), (0, 0, 255), (255, 255, 255)], (1.0, 2.0, 3.0))
    """

    def __init__(self, frames: int, fps: float | None = None) -> None:
        if frames < 2:
            raise ValueError(f"a clip needs at least 2 frames, got {frames}")
        if fps is not None and not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.frames = frames
        self.fps = fps
        self._seen: deque[tuple[float, Image.Image, str | None]] = deque()

    def add(self, seconds: float, frame: Image.Image, file: str | None = None) -> None:
        """Keep ``frame``, seen ``seconds`` into the episode; forget what no clip can show any more."""
        self._seen.append((seconds, frame, file))
        if self.fps is None:
            while len(self._seen) > self.frames:
                self._seen.popleft()
            return
        start = seconds - (self.frames - 1) / self.fps
        # The last frame seen at or before the window's start still shows the screen at that instant.
        while len(self._seen) > 1 and self._seen[1][0] <= start:
            self._seen.popleft()

    def clip(self, current: Image.Image, now: float | None = None) -> VideoPart | None:
        """The clip ending with ``current`` (the newest frame kept), or ``None`` under 2 frames.

        With a rate, the clip's instants end at ``now`` (episode seconds; default: when ``current`` was
        seen): a screen that has not changed since is shown as it still is.
        """
        if not self._seen or self._seen[-1][1] is not current:
            raise ValueError("the newest frame kept is not the current screenshot")
        same: list[tuple[float, Image.Image]] = []  # the newest frames of the current size, oldest first
        for t, f, _ in reversed(self._seen):
            if f.size != current.size:
                break
            same.insert(0, (t, f))
        if self.fps is None:
            picked = same[-self.frames:]
        else:
            now = same[-1][0] if now is None else max(now, same[-1][0])
            picked = []
            for k in range(self.frames - 1, -1, -1):
                at = now - k / self.fps
                before = [f for t, f in same if t <= at + 1e-9]
                if before:
                    picked.append((at, before[-1]))
        if len(picked) < 2:
            return None
        return VideoPart(tuple(f for _, f in picked), timestamps=tuple(max(t, 0.0) for t, _ in picked))

    def files(self) -> dict[int, str]:
        """``id(frame) -> step file`` for the frames kept (what the prompt record names them by)."""
        return {id(f): name for _, f, name in self._seen if name}

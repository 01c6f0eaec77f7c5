"""Desktop env reset/step times on a 1920x1080 Xvfb driving the Tk test app.

Run: `.venv/bin/python bench/bench_desktop.py` (needs Xvfb and tkinter, as the desktop tests do).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vlagent.actions.coords import Point
from vlagent.actions.models import Click, Scroll, TypeText
from vlagent.envs.desktop import DesktopEnv
from vlagent.envs.settle import SettlePolicy


def timed(label: str, fn: Callable[[], object], n: int = 20) -> None:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    print(f"{label:<28} median {statistics.median(out):6.1f} ms  min {min(out):6.1f}  max {max(out):6.1f}  (n={n})")


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import xvfb_fixtures as xf

    tmp = Path(tempfile.mkdtemp())
    (tmp / "empty.Xauthority").write_bytes(b"")
    os.environ["XAUTHORITY"] = str(tmp / "empty.Xauthority")
    server = xf.start_xvfb(1920, 1080, tmp)
    os.environ["DISPLAY"] = server.display
    app = xf.TkApp(server, tmp / "tk.jsonl")
    env = DesktopEnv(display=server.display, settle=SettlePolicy())
    try:

        def at(name: str) -> Point:
            x, y = app.center(name)
            return Point(x=x, y=y, space="screen")

        print(f"1920x1080 Xvfb, default SettlePolicy: {SettlePolicy()}")
        timed("reset", lambda: env.reset())
        timed("step click (no redraw)", lambda: env.step(Click(point=at("pad"))))
        timed("step click (redraw)", lambda: env.step(Click(point=at("ok"))))
        timed("step scroll x3", lambda: env.step(Scroll(point=at("pad"), direction="down", amount=3)))
        env.step(Click(point=at("entry")))
        timed("step type 10 ASCII chars", lambda: env.step(TypeText(text="hello abcd")), 10)
        timed("step type 'héllo'", lambda: env.step(TypeText(text="héllo")), 10)
        timed("one capture", env._grab, 50)
        frame = env._grab()
        timed("capture -> PIL image", frame.image, 50)
    finally:
        env.close()
        app.stop()
        server.stop()


if __name__ == "__main__":
    main()

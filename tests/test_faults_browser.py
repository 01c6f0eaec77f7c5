"""Chromium killed mid-episode: `vlagent run --env miniwob:...` ends with one MiniWoBError line, exit 4.

The real Chromium behind a MiniWoB++ task is killed by its process id (found under the chromedriver this
test process started) between the screenshot the policy saw and the click it answers with. The typed
error used to carry chromedriver's 20-line native stack trace into the message.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from faults_fixtures import error_lines, only_meta, vlagent

from vlagent.actions.models import Click
from vlagent.envs.miniwob import MiniWoBEnv, MiniWoBError, availability

AVAILABLE, WHY = availability()
pytestmark = [
    pytest.mark.chromium,
    pytest.mark.timeout(90),
    pytest.mark.skipif(not AVAILABLE, reason=f"MiniWoB++ needs Chromium: {WHY}"),
]


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        out += [int(p) for p in text.split()]
    return out


def our_drivers() -> set[int]:
    """The chromedriver processes this test process started."""
    return {p for p in _children(os.getpid()) if "chromedriver" in Path(f"/proc/{p}/cmdline").read_text()}


def kill_our_chromium(spare: set[int]) -> None:
    """SIGKILL the Chromium under each chromedriver of ours not in ``spare`` (other tests' browsers live on)."""
    browsers = [c for d in our_drivers() - spare for c in _children(d)]
    assert browsers, "no Chromium under this process's chromedriver"
    for pid in browsers:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{p}").exists() and "zombie" not in _state(p) for p in browsers):
        assert time.monotonic() < deadline, "Chromium did not die"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


class KillBrowserThenClick:
    """A python-backend policy (``test_faults_browser:KillBrowserThenClick``): kill Chromium, then click.

    ``spare``: the chromedrivers that were running before the test, whose browsers are not the episode's.
    """

    spare: set[int] = set()

    def generate(self, chats, **options):
        kill_our_chromium(self.spare)
        return ["Action: click(start_box='(500,500)')" for _ in chats]


def test_a_click_after_chromium_died_is_one_line(tmp_path: Path) -> None:
    spare = our_drivers()
    env = MiniWoBEnv("click-test", timeout=20)
    try:
        env.reset(seed=0)
        kill_our_chromium(spare)
        with pytest.raises(MiniWoBError) as info:
            env.step(Click.model_validate({"point": {"x": 20, "y": 20, "space": "screen"}}))
    finally:
        env.close()  # what is left of the session closes without raising
    message = str(info.value)
    assert "\n" not in message and "Stacktrace" not in message and message.startswith("the browser failed on click")


def test_run_with_chromium_killed_mid_episode_exits_4_with_the_trajectory_closed(
    capsys, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(KillBrowserThenClick, "spare", our_drivers())
    rc, _, err = vlagent(capsys, monkeypatch, "run", "--env", "miniwob:click-test", "--backend", "python",
                         "--model", "test_faults_browser:KillBrowserThenClick", "--profile", "ui-tars",
                         "--out", str(tmp_path), "--no-report")
    (line,) = error_lines(err)
    assert rc == 4 and line.startswith("error: MiniWoBError: the browser failed on click"), err
    assert "Stacktrace" not in err and len(line) < 400
    meta = only_meta(tmp_path)
    assert meta.done and meta.outcome == "env_error" and meta.error.type == "MiniWoBError"

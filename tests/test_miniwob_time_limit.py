"""MiniWoB++ episodes get their whole time limit: the limit is an env keyword, and no import eats into it.

MiniWoB++ ends a task "timed out" a fixed time after its reset (10 s by default). Loading torch after the
reset (the geometry's first ``smart_resize`` import, when it was transformers') used to cost seconds of it, so `vlagent run --env
miniwob:click-button` with the default policy failed on a busy machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vlagent.actions.models import Wait
from vlagent.agent.trajectory import find_episodes, read_meta
from vlagent.envs.miniwob import availability
from vlagent.envs.registry import make_env

AVAILABLE, WHY = availability()
pytestmark = [
    pytest.mark.chromium,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not AVAILABLE, reason=f"MiniWoB++ needs Chromium: {WHY}"),
]
VLAGENT = Path(sys.executable).parent / "vlagent"


def test_the_time_limit_is_an_env_keyword() -> None:
    env = make_env("miniwob:click-button", time_limit=1)
    try:
        env.reset(seed=0)
        time.sleep(1.5)  # past the 1 s limit, well inside MiniWoB's default 10 s
        _, reward, terminated, _, info = env.step(Wait(seconds=0.01))
    finally:
        env.close()
    assert terminated and reward == -1.0 and info["reason"] == "timed out" and info["success"] is False


def test_run_with_the_default_policy_beats_a_short_time_limit(tmp_path: Path) -> None:
    # The oracle clicks within a fraction of a second of the reset; torch loading after the reset took longer
    # than the 3 s allowed here (4 s on an idle 2-core machine), so the episode timed out.
    proc = subprocess.run(
        [str(VLAGENT), "run", "--env", "miniwob:click-button", "--env-kwargs", json.dumps({"time_limit": 3}),
         "--seed", "0", "--out", str(tmp_path), "--no-report"],
        capture_output=True, text=True, timeout=100, env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stderr
    (folder,) = find_episodes(tmp_path)
    meta = read_meta(folder)
    assert meta.success is True and meta.outcome == "terminated", proc.stdout
    assert meta.total_reward > 0.5  # the time-scaled reward: most of the 3 s was left

"""The ``--confirm`` prompt of ``vlagent run``: the step, the action in words, the thought, the screenshot."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from PIL import Image

from vlagent.agent import cli
from vlagent.agent.annotate import MARKER_RGB
from vlagent.agent.trajectory import find_episodes, load_episode

pytestmark = pytest.mark.timeout(120)


def test_the_confirm_prompt_says_what_why_and_where_to_look(capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n" * 10))
    monkeypatch.setattr(sys, "argv", ["vlagent", "run", "--env-kwargs", '{"size": [640, 480]}', "--profile", "ui-tars",
                                      "--confirm", "all", "--interactive", "--out", str(tmp_path), "--no-report"])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    assert info.value.code in (0, None), err
    (folder,) = find_episodes(tmp_path)
    meta, steps = load_episode(folder)
    assert meta.success and out.count("execute it?") == len(steps) == 5
    first = out.split("execute it?")[0].splitlines()
    assert first[-3].startswith("step 0: click at (")  # the action in screen pixels, in words
    assert first[-2] == f"  thought: {steps[0].thought}"
    shot = Path(first[-1].removeprefix("  annotated screenshot: "))
    assert shot == folder / "step_000_annotated.png" == folder / steps[0].annotated
    with Image.open(shot) as im:  # the click is drawn where it lands
        x, y = steps[0].actions[0].screen.point.x, steps[0].actions[0].screen.point.y
        marked = [im.getpixel((int(x) + dx, int(y))) for dx in range(-30, 31)]
        assert MARKER_RGB in marked

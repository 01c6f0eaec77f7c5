"""``vlagent parse``: the JSON it prints, its exit codes, and the typed errors on stderr.

Most cases run the console script's ``main()`` in-process (the same code path, minus interpreter start-up);
one runs the installed ``vlagent`` executable end to end, reading the reply from stdin.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vlagent.agent import cli


def run(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["vlagent", "parse", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_ui_tars_click_at_1920x1080(capsys, monkeypatch) -> None:
    reply = "Thought: open it\nAction: click(start_box='<|box_start|>(500,250)<|box_end|>')"
    rc, out, err = run(capsys, monkeypatch, "--profile", "ui-tars", "--width", "1920", "--height", "1080", reply)
    assert rc == 0, err
    assert json.loads(out) == [{
        "type": "click", "button": "left", "count": 1, "box": None,
        "point": {"space": "rel1000", "x": 500.0, "y": 250.0, "screen": [960, 270]},
    }]


def test_actions_in_reply_order_with_every_point(capsys, monkeypatch) -> None:
    reply = ("Action: drag(start_point='<point>100 200</point>', end_point='<point>300 400</point>')\n\n"
             "type(content='hi\\n')")
    rc, out, _ = run(capsys, monkeypatch, "--profile", "ui-tars-1.5", "--width", "1932", "--height", "1092", reply)
    assert rc == 0
    drag, typed = json.loads(out)
    assert drag["type"] == "drag" and drag["duration"] == 0.5
    # 1932x1092 is its own smart_resize, so resized pixels are screen pixels.
    assert drag["start"] == {"space": "resized", "x": 100.0, "y": 200.0, "screen": [100, 200]}
    assert drag["end"]["screen"] == [300, 400]
    assert typed == {"type": "type", "text": "hi", "submit": True}


def test_pixel_budget_defaults_to_the_profile_and_can_be_set(capsys, monkeypatch) -> None:
    reply = "{'action': 'CLICK', 'value': None, 'position': [0.5, 0.5]}"
    rc, out, _ = run(capsys, monkeypatch, "--profile", "showui", "--width", "1080", "--height", "2400", reply)
    assert rc == 0 and json.loads(out)[0]["point"]["screen"] == [540, 1200]
    # resized space: the same pixel number lands elsewhere under another budget.
    tc = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [658, 364]}}\n</tool_call>'
    args = ["--profile", "qwen2.5-vl", "--width", "1920", "--height", "1080"]
    _, out_default, _ = run(capsys, monkeypatch, *args, tc)
    _, out_small, _ = run(capsys, monkeypatch, *args, "--max-pixels", str(1280 * 28 * 28), tc)
    assert json.loads(out_small)[0]["point"]["screen"] == [960, 540]  # 658/1316 of the width
    assert json.loads(out_default)[0]["point"]["screen"] == [653, 360]  # 658/1932 of the width, floored


def test_hidpi_scale_is_accepted_and_screen_is_physical_pixels(capsys, monkeypatch) -> None:
    reply = "<|object_ref_start|>OK<|object_ref_end|><|box_start|>(480,480),(520,520)<|box_end|>"
    rc, out, _ = run(capsys, monkeypatch, "--profile", "qwen2-vl", "--width", "3840", "--height", "2160",
                     "--scale", "2", reply)
    assert rc == 0
    [click] = json.loads(out)
    assert click["point"]["screen"] == [1920, 1080]
    assert click["box"] == {"x1": 480.0, "y1": 480.0, "x2": 520.0, "y2": 520.0, "space": "rel1000"}


def test_json_profile_choose(capsys, monkeypatch) -> None:
    rc, out, _ = run(capsys, monkeypatch, "--profile", "json", "--width", "160", "--height", "210",
                     '{"thought": "go", "action": "LEFT"}')
    assert rc == 0 and json.loads(out) == [{"type": "choose", "option": "LEFT"}]


def test_unparseable_reply_exits_nonzero_with_the_typed_error(capsys, monkeypatch) -> None:
    rc, out, err = run(capsys, monkeypatch, "--profile", "ui-tars", "--width", "1920", "--height", "1080",
                       "I think I should click the button")
    assert rc != 0 and out == ""
    assert err.startswith("error: ActionParseError:") and "expected" in err


def test_point_off_the_image_exits_nonzero_with_the_typed_error(capsys, monkeypatch) -> None:
    rc, out, err = run(capsys, monkeypatch, "--profile", "ui-tars", "--width", "160", "--height", "210",
                       "Action: click(start_box='(1200,500)')")
    assert rc != 0 and out == ""
    assert err.startswith("error: CoordinateError:") and "160x210" in err


def test_unknown_profile_is_a_typed_error(capsys, monkeypatch) -> None:
    rc, _, err = run(capsys, monkeypatch, "--profile", "gpt-4", "--width", "10", "--height", "10", "x")
    assert rc != 0 and "ProfileError" in err and "qwen2-vl" in err


@pytest.mark.parametrize("bad", [["--width", "0", "--height", "10"], ["--width", "10", "--height", "10", "--scale", "0"],
                                 ["--width", "10", "--height", "10", "--min-pixels", "5000", "--max-pixels", "4000"]])
def test_bad_geometry_is_a_usage_error(capsys, monkeypatch, bad) -> None:
    rc, out, _ = run(capsys, monkeypatch, "--profile", "json", *bad, '{"action": "UP"}')
    assert rc == 2 and out == ""


def _vlagent() -> str | None:
    exe = Path(sys.executable).with_name("vlagent")
    return str(exe) if exe.exists() else shutil.which("vlagent")


@pytest.mark.skipif(_vlagent() is None, reason="the vlagent console script is not installed (pip install -e .)")
def test_installed_command_reads_stdin() -> None:
    reply = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [546, 1204]}}\n</tool_call>'
    proc = subprocess.run([_vlagent(), "parse", "--profile", "qwen2.5-vl", "--width", "1080", "--height", "2400", "-"],
                          input=reply, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["point"]["screen"] == [540, 1200]

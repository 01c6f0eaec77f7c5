"""vlagent's own ``smart_resize`` gives transformers' answer, and actions/ + prompts/ never load torch.

``resized`` coordinates (Qwen2.5-VL, UI-TARS 1.5) are pixels of the image the processor made; if our
arithmetic drifted by one 28-pixel step from the processor's, every click on such a profile would land
off target. The parity test runs both functions over more than 10,000 sizes and budgets: common screens,
sides under 28, aspect ratios on both sides of the limit of 200, budgets from a single token up.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import subprocess
import sys

import pytest

from vlagent.actions import ImageSizeError
from vlagent.actions.coords import MAX_ASPECT_RATIO, QWEN2_VL_MAX_PIXELS, QWEN2_VL_MIN_PIXELS, smart_resize
from vlagent.prompts import PROFILES

FACTOR = 28


def _transformers_smart_resize():
    """transformers' function, wherever the installed version keeps it."""
    for module in ("transformers.models.qwen2_vl.image_processing_qwen2_vl",
                   "transformers.models.qwen2_vl.image_processing_pil_qwen2_vl"):
        try:
            return importlib.import_module(module).smart_resize
        except (ImportError, AttributeError):
            continue
    raise AssertionError("transformers has no qwen2_vl smart_resize; update this test's module list")


def _cases() -> list[tuple[int, int, int, int]]:
    rng = random.Random(20261201)
    budgets = sorted({(p.min_pixels, p.max_pixels) for p in PROFILES.values()}
                     | {(QWEN2_VL_MIN_PIXELS, QWEN2_VL_MAX_PIXELS), (3136, 1280 * 28 * 28), (3136, 256 * 28 * 28),
                        (784, 784), (1, 100), (0, 10**9)})
    cases = []
    screens = [(1080, 1920), (2160, 3840), (2400, 1080), (210, 160), (480, 640), (720, 1280), (1, 1), (27, 27),
               (28, 28), (14, 14), (42, 42)]
    for (h, w) in screens:
        for lo, hi in budgets:
            cases.append((h, w, lo, hi))
    while len(cases) < 12_000:
        kind = rng.random()
        if kind < 0.3:  # anything a screen or a camera could be
            h, w = rng.randint(1, 5000), rng.randint(1, 5000)
        elif kind < 0.5:  # sides under one token
            h, w = rng.randint(1, 27), rng.randint(1, 400)
        elif kind < 0.8:  # aspect ratios near the limit of 200, on both sides of it
            short = rng.randint(1, 60)
            h, w = short, max(1, round(short * rng.uniform(195, 205)))
        else:  # long, thin and exactly at the limit
            short = rng.randint(1, 30)
            h, w = short, short * MAX_ASPECT_RATIO + rng.choice((-1, 0, 1))
        if rng.random() < 0.5:
            h, w = w, h
        if rng.random() < 0.5:
            lo, hi = rng.choice(budgets)
        else:
            lo = rng.choice((0, 1, 784, 3136, rng.randint(1, 10**6)))
            hi = lo + rng.choice((0, 1, rng.randint(0, 10**7)))
        cases.append((h, w, lo, hi))
    return cases


def test_parity_with_transformers_over_ten_thousand_sizes() -> None:
    theirs = _transformers_smart_resize()
    cases = _cases()
    assert len(cases) >= 10_000
    refused = mismatched = 0
    for h, w, lo, hi in cases:
        try:
            expected = tuple(theirs(h, w, factor=FACTOR, min_pixels=lo, max_pixels=hi))
        except (ValueError, ZeroDivisionError):
            refused += 1
            with pytest.raises(ImageSizeError):
                smart_resize(h, w, factor=FACTOR, min_pixels=lo, max_pixels=hi)
            continue
        got = smart_resize(h, w, factor=FACTOR, min_pixels=lo, max_pixels=hi)
        if got != expected:
            mismatched += 1
            assert got == expected, f"{w}x{h} with min_pixels={lo}, max_pixels={hi}"
    assert mismatched == 0
    assert 500 < refused < len(cases) - 5000  # both sides of the aspect limit were exercised


def test_refused_images_are_the_ones_transformers_refuses() -> None:
    theirs = _transformers_smart_resize()
    for h, w in [(20, 6000), (1, 201), (201, 1), (0, 100), (100, 0)]:
        with pytest.raises((ValueError, ZeroDivisionError)):
            theirs(h, w)
        with pytest.raises(ImageSizeError) as err:
            smart_resize(h, w)
        assert isinstance(err.value, ValueError)  # callers that caught transformers' ValueError still do
    assert smart_resize(1, 200) == tuple(theirs(1, 200))  # exactly 200 is allowed


_HEAVY = ("torch", "transformers")
_PROBE = """
import json, sys, atexit
atexit.register(lambda: sys.stderr.write("HEAVY=" + json.dumps([m for m in {heavy!r} if m in sys.modules])))
{body}
"""


def _heavy_modules(body: str, *args: str) -> tuple[list[str], subprocess.CompletedProcess]:
    code = _PROBE.format(heavy=_HEAVY, body=body)
    env = {k: v for k, v in os.environ.items() if k != "VLAGENT_PLUGINS"}
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env)
    marker = proc.stderr.rsplit("HEAVY=", 1)
    assert len(marker) == 2, proc.stderr
    return json.loads(marker[1]), proc


def test_actions_and_prompts_load_neither_torch_nor_transformers() -> None:
    loaded, proc = _heavy_modules(
        "import vlagent.actions, vlagent.prompts\n"
        "from vlagent.actions import Geometry\n"
        "from vlagent.prompts import get_profile\n"
        "p = get_profile('qwen2.5-vl'); p.make_parser()\n"
        "print(Geometry.for_image(1920, 1080, min_pixels=p.min_pixels, max_pixels=p.max_pixels))"
    )
    assert "resized_width=1932" in proc.stdout, proc.stderr
    assert loaded == []


def test_vlagent_parse_loads_neither_torch_nor_transformers() -> None:
    reply = '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [966, 546]}}</tool_call>'
    loaded, proc = _heavy_modules(
        "sys.argv = ['vlagent'] + sys.argv[1:]\nfrom vlagent.agent.cli import main\nmain()",
        "parse", "--profile", "qwen2.5-vl", "--width", "1920", "--height", "1080", reply,
    )
    assert proc.returncode == 0, proc.stderr
    (action,) = json.loads(proc.stdout)
    assert action["point"]["screen"] == [960, 540]
    assert loaded == []

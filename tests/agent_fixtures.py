"""Helpers for the agent tests: scripted backends, a step-counting env wrapper, chromium rendering.

The backends here are scripted policies (the kind STYLE.md asks for in loop tests): they reply in a real
profile's format, from the env's ground truth or from a fixed list of replies, and go through the real
parser, converter, env and recorder. Nothing in the loop is faked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
from PIL import Image

from vlagent.agent.policy import PolicyStep
from vlagent.agent.scripted import OraclePolicy
from vlagent.model.chat import Chat, Generation

Reply = str | Callable[[PolicyStep], str]
PROFILES = ("qwen2-vl", "qwen2.5-vl", "ui-tars", "ui-tars-1.5", "showui", "json")


class ScriptedBackend:
    """A policy: replies from ``replies`` in order (a string, or a function of the step), then the oracle's.

    Records every step's chat (what a model would read) and every batch size it was called with.
    """

    name = "scripted-test"

    def __init__(self, replies: Sequence[Reply] = (), *, after: Reply | None = None) -> None:
        self.replies = list(replies)
        self.after = after
        self.oracle = OraclePolicy()
        self.chats: list[Chat] = []
        self.batches: list[int] = []

    def decide(self, steps: Sequence[PolicyStep]) -> list[Generation]:
        self.batches.append(len(steps))
        out = []
        for step in steps:
            self.chats.append(step.prompt)
            reply = self.replies.pop(0) if self.replies else (self.after or self.oracle.reply)
            out.append(Generation(text=reply(step) if callable(reply) else reply))
        return out


def oracle_reply(step: PolicyStep) -> str:
    """The oracle's reply to the step, in the step's profile format."""
    return OraclePolicy().reply(step)


def chat_text(chat: Chat) -> str:
    """Every text part of a chat (what the model would read)."""
    return "\n".join(m.text for m in chat.messages)


class CountSteps(gym.Wrapper):
    """Counts ``env.step`` calls, to prove that refused or unparseable replies execute nothing."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.steps: list[Any] = []

    def step(self, action: Any):
        self.steps.append(action)
        return self.env.step(action)


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render_html(html_file: Path, out_png: Path, *, width: int = 1200, height: int = 2400, timeout: float = 90) -> Image.Image:
    """Render a local HTML file in headless Debian chromium and return the screenshot."""
    binary = chromium_binary()
    if binary is None:
        raise RuntimeError("chromium is not installed")
    profile = out_png.parent / f"chromium-profile-{os.getpid()}-{out_png.stem}"
    cmd = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
        f"--user-data-dir={profile}", f"--screenshot={out_png}", f"--window-size={width},{height}",
        "--virtual-time-budget=5000", html_file.resolve().as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)
    shutil.rmtree(profile, ignore_errors=True)
    with Image.open(out_png) as im:
        return im.convert("RGB")


def count_colour(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels lie within ``tolerance`` (per channel) of ``rgb``."""
    import numpy as np

    a = np.asarray(image.convert("RGB")).astype(int)
    return int((np.abs(a - np.array(rgb)).max(axis=2) <= tolerance).sum())

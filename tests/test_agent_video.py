"""``--video-frames``: the loop sends the last frames of a game as a video, through both model backends.

Breakout is the real ALE game. Through the transformers backend the tiny Qwen2-VL encodes and generates
on every clip (tests/video_fixtures.py: the oracle's reply then moves the game on, since random replies
never parse); through the OpenAI backend a real loopback server receives the requests and answers with
named actions.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from vlagent.agent.cli import _register_commands, app
from vlagent.agent.trajectory import load_episode
from vlagent.agent.video_frames import FrameHistory
from vlagent.model.chat import ImagePart, TextPart, VideoPart
from vlagent.prompts import get_profile
from vlagent.prompts.builder import build_chat
from vlagent.prompts.request import HistoryEntry, PromptRequest

pytest_plugins = ("model_fixtures",)
pytestmark = pytest.mark.timeout(150)
BREAKOUT = ["run", "--env", "gym:ALE/Breakout-v5", "--video-frames", "4", "--profile", "json", "--max-steps", "5",
            "--max-pixels", "50176", "--seed", "0", "--no-interactive", "--quiet"]


def _run(args: list[str], out: Path) -> Path:
    _register_commands()
    res = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return next(out.iterdir())


def test_breakout_sends_four_frame_videos_through_the_transformers_backend(
    tiny_qwen2vl_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import video_fixtures

    monkeypatch.setenv("VLAGENT_TINY_MODEL", str(tiny_qwen2vl_path))
    video_fixtures.SEEN.clear()
    folder = _run([*BREAKOUT, "--backend", "python", "--model", "video_fixtures:tiny_then_oracle"], tmp_path / "runs")
    seen = video_fixtures.SEEN
    # Step 0 has only the current frame; then the clip grows to 4 frames and stays there.
    assert [s["frames"] for s in seen] == [[], [2], [3], [4], [4]]
    grids = [s["grids"] for s in seen]
    assert grids[3] == grids[4] and grids[3][0][0] == 2  # 4 frames: 2 temporal patches
    image_tokens = seen[0]["visual_tokens"]
    t, h, w = grids[3][0]
    assert seen[3]["visual_tokens"] == image_tokens + t * h * w // 4

    meta, steps = load_episode(folder)
    assert len(steps) == 5
    video = steps[4].prompt.videos[0]
    assert video.files == [f"step_{i:03d}.png" for i in range(1, 5)]  # the frames as recorded, oldest first
    assert video.timestamps == sorted(video.timestamps) and video.tokens == t * h * w // 4
    assert [i.file for i in steps[4].prompt.images] == ["step_004.png"]  # the video replaces history images
    report = (folder / "index.html").read_text()
    assert "video of 4 frames" in report


def test_breakout_sends_four_frame_videos_to_an_openai_server(chat_server, tmp_path: Path) -> None:
    from model_helpers import completion

    chat_server.default = lambda _body: (200, completion('{"thought": "serve", "action": "FIRE"}'))
    _run([*BREAKOUT, "--backend", "openai", "--model", "served", "--base-url", chat_server.base_url],
         tmp_path / "runs")
    counts = []
    for request in chat_server.requests:
        parts = [p for m in request["messages"] if isinstance(m["content"], list) for p in m["content"]]
        videos = [p["video_url"]["url"] for p in parts if p["type"] == "video_url"]
        assert sum(p["type"] == "image_url" for p in parts) == 1  # the current screenshot only
        counts.append([len(v.partition(";base64,")[2].split(",")) for v in videos])
        for url in videos:
            media, _, data = url.partition(";base64,")
            assert media == "data:video/jpeg"
            sizes = {Image.open(io.BytesIO(base64.b64decode(f))).size for f in data.split(",")}
            assert len(sizes) == 1 and all(side % 28 == 0 for side in next(iter(sizes)))
    assert counts == [[], [2], [3], [4], [4]]
    assert chat_server.requests[-1]["mm_processor_kwargs"]["max_pixels"] == 50176


def test_video_frames_option_is_checked() -> None:
    _register_commands()
    res = CliRunner().invoke(app, ["run", "--video-frames", "1"])
    assert res.exit_code == 2 and "at least 2 frames" in res.output
    res = CliRunner().invoke(app, ["run", "--video-fps", "2"])
    assert res.exit_code == 2 and "--video-frames" in res.output


# ------------------------------------------------------------------------------------------- the clip
def _shots(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (32, 24), (i * 20, 0, 0)) for i in range(n)]


def test_a_rate_samples_the_screen_at_evenly_spaced_instants() -> None:
    hist = FrameHistory(4, fps=2.0)
    shots = _shots(5)
    for t, shot in zip((0.0, 0.2, 0.9, 1.2, 1.6), shots, strict=True):
        hist.add(t, shot)
    clip = hist.clip(shots[-1], now=1.6)
    assert clip.timestamps == pytest.approx((0.1, 0.6, 1.1, 1.6))
    # At each instant, the latest frame seen by then: 0.1 -> t=0, 0.6 -> t=0.2, 1.1 -> t=0.9, 1.6 -> t=1.6.
    assert [shots.index(f) for f in clip.frames] == [0, 1, 2, 4]
    # A screen unchanged since is held: instants 1.5, 2.0, 2.5, 3.0 see t=1.2, then t=1.6 three times.
    held = hist.clip(shots[-1], now=3.0)
    assert [shots.index(f) for f in held.frames] == [3, 4, 4, 4]


def test_only_frames_of_the_current_size_make_the_clip() -> None:
    hist = FrameHistory(4)
    small, big = _shots(2), [Image.new("RGB", (24, 32))] * 2
    for t, shot in enumerate([*small, *big]):
        hist.add(float(t), shot)
    assert len(hist.clip(big[-1]).frames) == 2
    one = FrameHistory(4)
    one.add(0.0, small[0])
    assert one.clip(small[0]) is None  # one frame is the screenshot itself, not a video


# ------------------------------------------------------------------------------------- prompt layouts
@pytest.mark.parametrize("profile", ["json", "ui-tars", "qwen2-vl"])
def test_the_clip_comes_right_before_the_current_screenshot(profile: str) -> None:
    shots = _shots(3)
    clip = VideoPart(tuple(shots), timestamps=(0.0, 0.5, 1.0))
    req = PromptRequest(family="game", task="keep the ball in play", images=[shots[-1]], options=("FIRE", "LEFT"),
                        supported=frozenset({"choose"}), history=[HistoryEntry(reply="x")] * 2, video=clip)
    chat = build_chat(get_profile(profile), req, min_pixels=3136, max_pixels=50176)
    parts = [p for m in chat.messages for p in m.content]
    kinds = [type(p).__name__ for p in parts]
    v = kinds.index("VideoPart")
    assert kinds.count("VideoPart") == 1 and kinds.count("ImagePart") == 1
    assert isinstance(parts[v - 1], TextPart) and "last 3 frames" in parts[v - 1].text
    after = [p for p in parts[v + 1:] if not isinstance(p, TextPart) or "screenshot" not in p.text.lower()]
    assert isinstance(after[0], ImagePart)  # only a label between the clip and the current screenshot
    sent = parts[v]
    assert (sent.min_pixels, sent.max_pixels) == (3136, 50176)  # the chat's budget per frame
    assert json.dumps(chat.metadata)  # nothing unserialisable rides in the metadata

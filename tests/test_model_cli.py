"""``vlagent generate`` with each backend, and ``vlagent tiny-model``, through the real typer app."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from model_helpers import draw_screenshot
from typer.testing import CliRunner

from vlagent.agent.cli import _register_commands, app
from vlagent.model.errors import ModelLoadError

pytest_plugins = ("model_fixtures",)  # tiny_qwen2vl_path, chat_server
pytestmark = pytest.mark.timeout(120)

_register_commands()
runner = CliRunner()
KEYS = {"text", "prompt_tokens", "visual_tokens", "new_tokens", "seconds"}


@pytest.fixture(scope="module")
def shot_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("shots") / "screen.png"
    draw_screenshot(1920, 1080).save(path)
    return path


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["generate", *args, "--json"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(data) == KEYS
    return data


def test_generate_transformers_json(tiny_qwen2vl_path, shot_path):
    data = run_json(
        "--model", str(tiny_qwen2vl_path), "--device", "cpu", "--image", str(shot_path),
        "--max-pixels", str(256 * 28 * 28), "--max-new-tokens", "5", "Where is the OK button?",
    )  # fmt: skip
    assert data["visual_tokens"] == 252
    assert data["prompt_tokens"] > 252 and 1 <= data["new_tokens"] <= 5 and data["seconds"] > 0


def test_generate_transformers_text_prints_reply_and_figures(tiny_qwen2vl_path, shot_path):
    result = runner.invoke(
        app,
        ["generate", "--model", str(tiny_qwen2vl_path), "--device", "cpu", "--image", str(shot_path),
         "--max-pixels", str(64 * 28 * 28), "--max-new-tokens", "3", "hi"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "visual_tokens=" in result.stderr
        and "prompt_tokens=" in result.stderr
        and "seconds=" in result.stderr
    )


def test_generate_openai_json(chat_server, shot_path, monkeypatch):
    monkeypatch.setenv("VLAGENT_API_KEY", "sk-cli")
    data = run_json(
        "--backend", "openai", "--model", "Qwen/Qwen2-VL-7B-Instruct", "--base-url", chat_server.base_url,
        "--image", str(shot_path), "--max-pixels", str(1280 * 28 * 28), "--max-new-tokens", "9", "Click OK",
    )  # fmt: skip
    assert data["text"] == "echo: Click OK"
    assert (data["prompt_tokens"], data["new_tokens"], data["visual_tokens"]) == (11, 3, 1222)
    (req,) = chat_server.requests
    assert req["max_tokens"] == 9 and req["mm_processor_kwargs"] == {"max_pixels": 1280 * 28 * 28}


def test_generate_python_json(tmp_path, monkeypatch):
    (tmp_path / "cli_policy_mod.py").write_text(
        textwrap.dedent(
            """
            class Upper:
                def generate(self, chats, **options):
                    return [c.messages[-1].text.upper() for c in chats]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    data = run_json("--backend", "python", "--model", "cli_policy_mod:Upper", "click ok")
    assert data["text"] == "CLICK OK"


def test_generate_missing_model_folder_is_a_model_load_error(tmp_path, shot_path):
    result = runner.invoke(
        app, ["generate", "--model", str(tmp_path / "nope"), "--image", str(shot_path), "x"]
    )
    assert isinstance(result.exception, ModelLoadError)
    assert "hf download" in str(result.exception)


def test_generate_unreadable_image_exits_with_the_model_error_code(tmp_path):
    # Through the real console script, so the exit code and message are what a user sees.
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    vlagent = Path(sys.executable).with_name("vlagent")
    out = subprocess.run(
        [str(vlagent), "generate", "--backend", "python", "--model", "x:y", "--image", str(bad), "hi"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == ModelLoadError.exit_code == 3
    assert "ModelLoadError: cannot read image" in out.stderr


def test_tiny_model_command_writes_a_loadable_checkpoint(tmp_path, shot_path):
    result = runner.invoke(app, ["tiny-model", str(tmp_path / "tiny")])
    assert result.exit_code == 0, result.output
    assert {"config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json"} <= {
        p.name for p in (tmp_path / "tiny").iterdir()
    }
    data = run_json("--model", str(tmp_path / "tiny"), "--device", "cpu", "--max-new-tokens", "2", "hello")
    assert data["visual_tokens"] == 0 and data["new_tokens"] >= 1

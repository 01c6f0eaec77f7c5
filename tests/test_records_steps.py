"""What each step records: the prompt as sent, the user's answer to call_user, and a seed to replay with."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_fixtures import ScriptedBackend
from typer.testing import CliRunner

from vlagent.actions.coords import resized_size
from vlagent.agent.cli import _register_commands, app
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.report import write_report
from vlagent.agent.trajectory import load_episode
from vlagent.envs.registry import make_env
from vlagent.model.chat import GenerationOptions
from vlagent.prompts import get_profile

pytestmark = pytest.mark.timeout(120)


def test_each_step_records_the_chat_as_sent_with_its_screenshots_by_file(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    agent = Agent(backend, "qwen2-vl", make_env("synthetic:login", size=(800, 600)), recorder=TrajectoryStore(tmp_path),
                  history_images=2, gen_options=GenerationOptions(max_new_tokens=77, temperature=0.3),
                  max_pixels=200704)
    agent.run("", seed=2, episode_id="ep")
    meta, steps = load_episode(tmp_path / "ep")
    sent_system = backend.chats[0].messages[0]
    assert sent_system.role == "system" and meta.system_prompt == sent_system.text
    lo = get_profile("qwen2-vl").min_pixels
    for step, chat in zip(steps, backend.chats, strict=True):
        prompt = step.prompt
        assert prompt is not None and prompt.options["max_new_tokens"] == 77 and prompt.options["temperature"] == 0.3
        # The system prompt is stored once, in meta.json; each step refers to it.
        assert prompt.messages[0].role == "system" and prompt.messages[0].parts[0].ref == "system_prompt"
        # Every other text part is the text that was sent, in order.
        sent = [p.text for m in chat.messages[1:] for p in m.content if hasattr(p, "text")]
        assert [p.text for m in prompt.messages[1:] for p in m.parts if p.kind == "text"] == sent
        assert prompt.images[-1].file == step.screenshot  # the current screen is this step's screenshot
        for image in prompt.images:
            assert (tmp_path / "ep" / image.file).is_file()
            assert (image.resized_width, image.resized_height) == resized_size(800, 600, min_pixels=lo, max_pixels=200704)
    # The second step shows the first screenshot as history, and the history text names the first action.
    assert [i.file for i in steps[1].prompt.images] == ["step_000.png", "step_001.png"]
    assert "Previous actions:" in steps[1].prompt.messages[-1].text and "Step 1: " in steps[1].prompt.messages[-1].text


def test_call_user_records_the_question_and_the_answer(tmp_path: Path) -> None:
    agent = Agent(ScriptedBackend(["call_user('Which account?')"]), "qwen2-vl", make_env("synthetic:login", size=(640, 480)),
                  recorder=TrajectoryStore(tmp_path), ask=lambda q: "use the guest account")
    agent.run("", seed=1, episode_id="ep")
    _, steps = load_episode(tmp_path / "ep")
    asked = steps[0].actions[0]
    assert asked.model.type == "call_user" and asked.model.question == "Which account?"
    assert asked.answer == "use the guest account"
    assert "the user answered: use the guest account" in write_report(tmp_path).read_text()


def test_a_run_without_seed_records_one_and_replays_without_divergence(tmp_path: Path) -> None:
    _register_commands()
    run = CliRunner().invoke(app, ["run", "--out", str(tmp_path / "runs"), "--quiet"])
    assert run.exit_code == 0, run.output
    folder = next((tmp_path / "runs").iterdir())
    meta, _ = load_episode(folder)
    assert isinstance(meta.seed, int)
    replay = CliRunner().invoke(app, ["replay", str(folder), "--execute"])
    assert replay.exit_code == 0, replay.output
    assert "no divergence" in replay.stdout

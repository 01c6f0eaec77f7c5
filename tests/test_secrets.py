"""``--secret``: the model sees a placeholder, the env gets the value, nothing recorded or printed holds it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from agent_fixtures import ScriptedBackend
from typer.testing import CliRunner

from vlagent.agent.cli import _register_commands, app, main
from vlagent.agent.errors import SecretError
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.report import write_report
from vlagent.agent.secrets import Secrets, parse_secrets
from vlagent.agent.trajectory import load_episode
from vlagent.envs.registry import make_env

pytestmark = pytest.mark.timeout(120)
VALUE = "hunter2-Zq9"
TASK = "Sign in as 'ann' with password '<secret>pw</secret>'"


def _files_holding(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_cli_run_signs_in_with_a_placeholder_password_and_the_value_is_nowhere(tmp_path: Path) -> None:
    _register_commands()
    run = tmp_path / "runs"
    proc = CliRunner().invoke(app, ["run", "--task", TASK, "--secret", f"pw={VALUE}", "--out", str(run)],
                              env={"COLUMNS": "120"})
    assert proc.exit_code == 0, proc.output
    assert "terminated (success)" in proc.stdout
    assert VALUE not in proc.stdout + proc.stderr
    folder = next(run.iterdir())
    meta, steps = load_episode(folder)
    assert meta.success and meta.task == TASK and meta.secrets == ["pw"]
    # The oracle read the real password from the env and typed it; the record holds the placeholder.
    typed = [a.model.text for s in steps for a in s.actions if a.model.type == "type"]
    assert "<secret>pw</secret>" in typed
    assert all("<secret>pw</secret>" in s.prompt.messages[-1].text for s in steps)
    assert _files_holding(run, VALUE) == []  # steps.jsonl, meta.json, the report, every PNG


def test_secret_from_the_environment_and_masked_in_error_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The login app's "no such task" error quotes the task it was given (the real value): the CLI's error
    # line (its console-script entry point, run in-process) masks it on the way out.
    monkeypatch.setenv("VLAGENT_SECRET_pw", VALUE)
    monkeypatch.setattr(sys, "argv", ["vlagent", "run", "--task", "Fly to the moon with <secret>pw</secret>",
                                      "--out", str(tmp_path / "runs")])
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capsys.readouterr()
    assert exited.value.code != 0
    assert "UnknownTaskError" in err and "<secret>pw</secret>" in err
    assert VALUE not in out + err


def test_a_reply_typing_the_value_is_masked_everywhere_and_still_executed(tmp_path: Path) -> None:
    env = make_env("synthetic:login", size=(640, 480))
    typed: list[str] = []
    inner = env.unwrapped
    original = inner.step

    def spy(action):  # what the env really got
        if action.type == "type":
            typed.append(action.text)
        return original(action)

    inner.step = spy
    leak = f"Thought: I will type {VALUE} now.\nAction: type(content='{VALUE}')"
    backend = ScriptedBackend(["Action: click(start_box='(500,420)')", leak])
    agent = Agent(backend, "ui-tars", env, recorder=TrajectoryStore(tmp_path), secrets=Secrets({"pw": VALUE}),
                  max_steps=3)
    result = agent.run(TASK, seed=0, episode_id="ep")
    assert VALUE in typed  # substituted at execution
    step = result.steps[1]
    assert VALUE not in step.raw and "<secret>pw</secret>" in step.raw
    # The model's next prompt shows its own reply masked (the history), never the value.
    assert all(VALUE not in m.text for chat in backend.chats for m in chat.messages)
    write_report(tmp_path)
    assert _files_holding(tmp_path, VALUE) == []


def test_bad_secret_flags_are_refused_without_echoing_the_value() -> None:
    with pytest.raises(SecretError) as bad:
        parse_secrets([VALUE], environ={})
    assert VALUE not in str(bad.value)
    with pytest.raises(SecretError, match="shorter"):
        parse_secrets(["pin=12"], environ={})
    s = parse_secrets(["a=longer-value", "b=long"], environ={})
    assert s.mask("x longer-value long") == "x <secret>a</secret> <secret>b</secret>"  # longest value first
    assert s.reveal("<secret>b</secret>/<secret>zz</secret>") == "long/<secret>zz</secret>"
    assert json.loads(json.dumps(s.mask_json({"k": ["long", 1]}))) == {"k": ["<secret>b</secret>", 1]}


def test_masking_twice_changes_nothing_and_never_mangles_a_placeholder() -> None:
    # A value that is part of the placeholder syntax itself ("secret") must not eat existing placeholders.
    s = Secrets({"pw": "secret", "name": "ann-the-admin"})
    once = s.mask("user ann-the-admin typed secret into <secret>pw</secret>")
    assert once == "user <secret>name</secret> typed <secret>pw</secret> into <secret>pw</secret>"
    assert s.mask(once) == once
    assert s.reveal(once) == "user ann-the-admin typed secret into secret"


def test_a_secret_run_replays_exactly_when_given_the_secret_again(tmp_path: Path) -> None:
    _register_commands()
    run = tmp_path / "runs"
    assert CliRunner().invoke(app, ["run", "--task", TASK, "--secret", f"pw={VALUE}", "--out", str(run),
                                    "--seed", "1", "--no-report", "--quiet"]).exit_code == 0
    folder = next(run.iterdir())
    again = CliRunner().invoke(app, ["replay", str(folder), "--execute", "--secret", f"pw={VALUE}"])
    assert again.exit_code == 0 and "no divergence" in again.stdout, again.output
    # Without the value the placeholder itself is typed: the password field shows a different number of dots.
    blind = CliRunner().invoke(app, ["replay", str(folder), "--execute"])
    assert blind.exit_code == 1 and "DIVERGED" in blind.stdout
    assert VALUE not in again.output + blind.output

"""The CLI as a user walks through it: mistakes give one clear line and a non-zero exit, never a traceback.

Each test here is a regression for something a walk through the commands found broken. Most go through
``vlagent.agent.cli.main`` in process (the real entry point with its error handling: an exception that is
not a usage or vlagent error escapes and fails the test, as a traceback would have shown); the few that
depend on the process environment (SDL, Xauthority) run the installed ``vlagent`` script.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from xvfb_fixtures import requires_xvfb, start_xvfb

from vlagent.agent import cli
from vlagent.agent.trajectory import find_episodes, read_meta

pytestmark = pytest.mark.timeout(120)
VLAGENT = Path(sys.executable).parent / "vlagent"


def vlagent(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    """Run ``vlagent ARGS`` through the console-script entry point; return (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["vlagent", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def last_line(err: str) -> str:
    return [line for line in err.splitlines() if line.strip()][-1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ('{"size": "tablet"}', "unknown screen size 'tablet'"),
        ('{"bogus": 1}', "synthetic:login takes size, scale, render_mode; not bogus"),
        ('{"size": "4k", "scale": 0}', "scale must be a number"),
        ('{"size": phone}', "--env-kwargs is not JSON"),
        ("[1]", "--env-kwargs must be a JSON object"),
    ],
)
def test_bad_env_kwargs_are_one_line_errors(capsys, monkeypatch, tmp_path: Path, kwargs: str, message: str) -> None:
    rc, _, err = vlagent(capsys, monkeypatch, "run", "--env-kwargs", kwargs, "--out", str(tmp_path))
    assert rc != 0 and message in last_line(err), err
    assert not (tmp_path.exists() and any(tmp_path.iterdir()))  # nothing was run


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["run", "--max-steps", "0"], "--max-steps"),
        (["run", "--history-images", "0"], "--history-images"),
        (["run", "--max-retries", "-1"], "--max-retries"),
        (["run", "--max-new-tokens", "0"], "--max-new-tokens"),
        (["run", "--min-pixels", "100000", "--max-pixels", "1000"], "--max-pixels"),
        (["run", "--max-pixels", "1000"], "--max-pixels"),  # below the profile's min_pixels
        (["eval", "--workers", "0"], "--workers"),
        (["eval", "--episodes", "0"], "--episodes"),
        (["eval", "--max-pixels", "1000"], "--max-pixels"),
        (["generate", "--model", "m", "--temperature", "-1", "x"], "--temperature"),
        (["parse", "--profile", "qwen2-vl", "--width", "9", "--height", "9", "--scale", "100", "(1,1)"], "--scale"),
    ],
)
def test_out_of_range_numbers_are_usage_errors(capsys, monkeypatch, tmp_path: Path, args: list[str], option: str) -> None:
    # Regression: --max-steps 0, --history-images 0 and --max-retries -1 ended in a ValueError traceback.
    out = ["--out", str(tmp_path / "o")] if args[0] in ("run", "eval") else []
    rc, _, err = vlagent(capsys, monkeypatch, *args, *out)
    assert rc == 2 and option in last_line(err), err
    assert "SCRIPTED ORACLE" not in err  # refused before any banner or work


@pytest.mark.parametrize("env", ["desktop", "android"])
def test_a_real_screen_needs_a_task(capsys, monkeypatch, tmp_path: Path, env: str) -> None:
    # An agent with no task on the user's own desktop or phone would act at random.
    rc, _, err = vlagent(capsys, monkeypatch, "run", "--env", env, "--dry-run", "--out", str(tmp_path))
    assert rc == 2 and "has no task of its own" in last_line(err) and "--task" in last_line(err)


def test_a_bad_env_spec_is_reported_before_the_model_loads(capsys, monkeypatch, tmp_path: Path) -> None:
    rc, _, err = vlagent(capsys, monkeypatch, "run", "--env", "synthetic:nope", "--backend", "transformers",
                         "--model", str(tmp_path / "no-weights-here"), "--out", str(tmp_path))
    assert rc == 4 and "UnknownAppError: no synthetic app 'nope'" in last_line(err), err


def test_the_scripted_policy_through_generate_is_a_typed_error(capsys, monkeypatch) -> None:
    # Regression: it raised a bare ValueError with a traceback.
    rc, _, err = vlagent(capsys, monkeypatch, "generate", "--backend", "python", "--model",
                         "vlagent.agent.scripted:oracle_policy", "Where is OK?")
    assert rc == 3 and "ModelRejected: the scripted policy answers only inside an episode" in last_line(err)


def test_a_non_positive_openai_timeout_is_a_typed_error(capsys, monkeypatch) -> None:
    # Regression: --timeout -1 reached the socket layer and ended in "ValueError: Timeout value out of range".
    rc, _, err = vlagent(capsys, monkeypatch, "generate", "--backend", "openai", "--model", "m",
                         "--base-url", "http://127.0.0.1:9/v1", "--timeout", "-1", "x")
    assert rc == 3 and "timeout must be a positive number of seconds" in last_line(err)


def test_parse_with_a_hidpi_scale_shows_where_the_click_lands_in_logical_points(capsys, monkeypatch) -> None:
    # --scale used to change nothing in the output, so a user could not see what it did.
    args = ["parse", "--profile", "qwen2-vl", "--width", "3840", "--height", "2160"]
    rc, out, _ = vlagent(capsys, monkeypatch, *args, "--scale", "2", "(576,328)")
    assert rc == 0
    assert json.loads(out)[0]["point"] == {"space": "rel1000", "x": 576.0, "y": 328.0, "screen": [2211, 708],
                                           "logical": [1106, 354]}
    rc, out, _ = vlagent(capsys, monkeypatch, *args, "(576,328)")
    assert rc == 0 and "logical" not in json.loads(out)[0]["point"]


def test_help_paragraphs_are_reflowed_not_broken_at_source_line_ends(capsys, monkeypatch) -> None:
    # Regression: typer kept the docstrings' line breaks after the first paragraph, so at 80 columns the help
    # alternated full and near-empty lines ("... the synthetic login app / driven by the scripted / oracle").
    monkeypatch.setenv("COLUMNS", "200")
    for command, phrase in [("run", "the synthetic login app driven by the scripted oracle (not a model), printing"),
                            ("replay", "after each step, the screen, reward and termination are compared")]:
        rc, out, _ = vlagent(capsys, monkeypatch, command, "--help")
        assert rc == 0 and phrase in out, out


def test_the_run_help_examples_work_when_pasted(capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # one example per line, as a user copies it
    rc, out, _ = vlagent(capsys, monkeypatch, "run", "--help")
    assert rc == 0
    # An example may go on over lines ending in a backslash, as a shell takes it when pasted.
    text = re.sub(r"\\\n\s*", "", out)
    examples = [line.strip() for line in text.splitlines() if line.strip().startswith("vlagent run")]
    local = [e.split("  (")[0] for e in examples if "--backend openai" not in e]  # the openai one needs a server
    assert len(local) >= 2
    assert any("--profile ui-tars" in e for e in local)
    for i, example in enumerate(local):
        args = shlex.split(example)[1:] + ["--out", str(tmp_path / str(i)), "--no-report"]
        rc, out, err = vlagent(capsys, monkeypatch, *args)
        assert rc == 0 and "(success)" in out, (example, out, err)


def test_a_gym_run_prints_no_sdl_errors(tmp_path: Path) -> None:
    # Regression: toy-text frames are drawn with pygame, whose display init printed
    # "error: XDG_RUNTIME_DIR is invalid or not set in the environment." to stderr on a headless machine,
    # which reads as a vlagent error.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SDL_", "XDG_", "WAYLAND_", "DISPLAY"))}
    proc = subprocess.run(
        [str(VLAGENT), "run", "--env", "gym:FrozenLake-v1", "--profile", "json", "--seed", "0", "--max-steps", "2",
         "--out", str(tmp_path), "--no-report"],
        capture_output=True, text=True, timeout=110, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "XDG_RUNTIME_DIR" not in proc.stderr and not any(
        line.startswith("error:") for line in proc.stderr.splitlines()
    ), proc.stderr


@requires_xvfb
def test_desktop_dry_run_on_xvfb_without_an_xauthority_file(tmp_path: Path, monkeypatch) -> None:
    # Regression: on `Xvfb -ac` with no ~/.Xauthority, the desktop env failed with XauthError from python-xlib
    # (pyautogui), while every libX11 client connected fine.
    (tmp_path / "fixture.Xauthority").write_bytes(b"")  # only for start_xvfb's own readiness probe
    monkeypatch.setenv("XAUTHORITY", str(tmp_path / "fixture.Xauthority"))
    server = start_xvfb(1280, 800, tmp_path)
    try:
        env = {k: v for k, v in os.environ.items() if k != "XAUTHORITY"}
        env.update(HOME=str(tmp_path), DISPLAY=server.display)
        proc = subprocess.run(
            [str(VLAGENT), "run", "--env", "desktop", "--dry-run", "--task", "Open the calculator",
             "--max-steps", "2", "--out", str(tmp_path / "runs"), "--no-report"],
            capture_output=True, text=True, timeout=110, env=env,
        )
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    assert "Xlib" not in proc.stdout and "Xauth" not in proc.stderr
    (folder,) = find_episodes(tmp_path / "runs")
    meta = read_meta(folder)
    assert meta.dry_run and meta.geometry["width"] == 1280 and meta.task == "Open the calculator"


def test_end_of_input_at_a_confirm_prompt_stops_like_ctrl_c(capsys, monkeypatch, tmp_path: Path) -> None:
    # Regression: Ctrl+C or end of input at `--confirm` prompts recorded the episode as "crashed" and the CLI
    # said only "aborted", not where the trajectory was.
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\nn\n"))  # execute the click, refuse the typing, then EOF
    rc, out, err = vlagent(capsys, monkeypatch, "run", "--confirm", "all", "--interactive", "--out", str(tmp_path))
    assert rc == 130 and "interrupted; trajectory:" in last_line(err), err
    (folder,) = find_episodes(tmp_path)
    meta = read_meta(folder)
    assert meta.outcome == "interrupted" and meta.ended is not None and meta.steps == 2


@pytest.mark.parametrize("command", [["run"], ["eval", "--episodes", "1"], ["tiny-model"]])
def test_an_output_folder_that_cannot_be_made_is_a_usage_error(capsys, monkeypatch, tmp_path: Path, command) -> None:
    # Regression: `--out` naming a file ended in NotADirectoryError/FileExistsError tracebacks, for `run` after
    # the env and the model were already up.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    args = [*command, str(blocker)] if command == ["tiny-model"] else [*command, "--out", str(blocker)]
    rc, _, err = vlagent(capsys, monkeypatch, *args)
    assert rc == 2 and "a file is in the way" in last_line(err), err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sensitive", "clik", "--confirm", "sensitive", "--interactive"], "'clik' is not an action type"),
        (["--deny-hotkey", "notakey+zz"], "cannot deny-list the key combination 'notakey+zz': unknown key name"),
    ],
)
def test_safety_settings_that_protect_nothing_are_refused(capsys, monkeypatch, tmp_path: Path, args, message) -> None:
    # Regression: a misspelt --sensitive type was accepted and silently confirmed nothing; an unknown key in
    # --deny-hotkey ended in a ValueError traceback.
    rc, _, err = vlagent(capsys, monkeypatch, "run", *args, "--out", str(tmp_path))
    assert rc != 0 and f"SafetyConfigError: {message}" in last_line(err), err
    assert "SCRIPTED ORACLE" not in err and not any(tmp_path.iterdir())


def broken_backend() -> object:
    """A ``--backend python`` factory whose model server is gone (what `vlagent run` meets mid-episode)."""
    from vlagent.model.errors import ModelUnavailable

    class Broken:
        def generate(self, chats, **options):
            raise ModelUnavailable("the model server went away")

    return Broken()


def test_a_run_ended_by_a_model_error_says_where_its_trajectory_is(capsys, monkeypatch, tmp_path: Path) -> None:
    # Regression: only the error line was printed, so the closed trajectory (outcome model_error) was lost.
    rc, _, err = vlagent(capsys, monkeypatch, "run", "--backend", "python", "--model",
                         "test_cli_walkthrough:broken_backend", "--out", str(tmp_path))
    (folder,) = find_episodes(tmp_path)
    assert rc == 3 and "ModelUnavailable: the model server went away" in last_line(err)
    assert f"trajectory (ended by the error below): {folder}" in err
    assert read_meta(folder).outcome == "model_error"

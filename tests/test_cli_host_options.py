"""``--preprocess`` and ``--vision-cache-mb`` reach the transformers backend from run, eval and generate.

The backend is replaced by a stand-in that checks the keywords against TransformersBackend's own signature
(a misspelt keyword would fail there as it would on a GPU machine) and then refuses to load, so no model
is built.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from faults_fixtures import vlagent

from vlagent.agent.evaluate import EvalConfig
from vlagent.agent.suites import EpisodeSpec
from vlagent.model import TransformersBackend
from vlagent.model.errors import ModelLoadError

pytestmark = pytest.mark.timeout(60)


def commands(out: Path) -> dict[str, list[str]]:
    """Each command that builds a transformers backend, up to its host-work options."""
    model = ["--backend", "transformers", "--model", "some/model"]
    return {
        "run": ["run", *model, "--out", str(out / "run"), "--no-report"],
        "eval": ["eval", "--suite", "synthetic:login", "--episodes", "1", *model, "--out", str(out / "eval"),
                 "--no-progress"],
        "generate": ["generate", "hello", "--model", "some/model"],
    }


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keywords each make_backend("transformers", ...) call got; the call itself fails to load."""
    calls: list[dict[str, Any]] = []

    def fake_make_backend(kind: str, model: str, **kwargs: Any) -> Any:
        assert kind == "transformers"
        inspect.signature(TransformersBackend).bind(model, **kwargs)  # the real constructor takes them
        calls.append(kwargs)
        raise ModelLoadError("stand-in backend: not loading")

    monkeypatch.setattr("vlagent.model.make_backend", fake_make_backend)
    return calls


@pytest.mark.parametrize("command", ["run", "eval", "generate"])
def test_the_options_reach_the_backend(capsys, monkeypatch, tmp_path: Path, built, command: str) -> None:
    args = [*commands(tmp_path)[command], "--preprocess", "device", "--vision-cache-mb", "64"]
    rc, _, err = vlagent(capsys, monkeypatch, *args)
    assert rc != 0 and "stand-in backend" in err, err
    (kwargs,) = built
    assert kwargs["preprocess"] == "device" and kwargs["vision_cache_mb"] == 64


@pytest.mark.parametrize("command", ["run", "eval", "generate"])
def test_without_the_options_the_backend_keeps_its_defaults(capsys, monkeypatch, tmp_path: Path, built,
                                                           command: str) -> None:
    vlagent(capsys, monkeypatch, *commands(tmp_path)[command])
    (kwargs,) = built
    defaults = inspect.signature(TransformersBackend).parameters
    assert kwargs["preprocess"] == defaults["preprocess"].default
    assert kwargs["vision_cache_mb"] == defaults["vision_cache_mb"].default


@pytest.mark.parametrize(("option", "value"), [("--preprocess", "gpu"), ("--vision-cache-mb", "-1")])
def test_a_bad_value_is_a_usage_error_before_any_model_loads(capsys, monkeypatch, tmp_path: Path, built,
                                                            option: str, value: str) -> None:
    rc, _, err = vlagent(capsys, monkeypatch, *commands(tmp_path)["run"], option, value)
    assert rc == 2 and option in err, err
    assert built == []


class _Backend:
    """What EvalConfig reads of a transformers backend: its name, model and effective preprocessing."""

    name = "transformers"
    model_ref = "some/model"

    def __init__(self, preprocess: str) -> None:
        self.preprocess = preprocess


def key(preprocess: str) -> EvalConfig:
    return EvalConfig.of(_Backend(preprocess), "qwen2-vl", [EpisodeSpec("s", "synthetic:login")], {})


def test_resume_refuses_a_folder_run_with_the_device_path_when_now_exact() -> None:
    assert key("device").differences(key("exact")) == ["preprocess 'device' there, None now"]


def test_the_exact_path_and_the_library_processor_are_one_configuration_as_are_older_folders() -> None:
    assert key("exact").differences(key("transformers")) == []
    older = key("exact").model_dump(mode="json")
    del older["preprocess"]  # a config.json written before the entry existed
    assert EvalConfig.model_validate(older).differences(key("exact")) == []

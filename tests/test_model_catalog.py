"""Shipped models by name (``--model vlagent-nano``) and model cards: a model is asked as it was trained."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vlagent.agent.cli import app
from vlagent.agent.commands import agent_options
from vlagent.agent.commands.agent_options import choose_backend
from vlagent.model import catalog
from vlagent.model.catalog import CARD_FILE, ModelCard, model_card, resolve_model
from vlagent.model.errors import ModelLoadError

pytest_plugins = ("model_fixtures",)
pytestmark = pytest.mark.timeout(180)


def _register_commands() -> None:
    import vlagent.agent.commands.evaluate  # noqa: F401
    import vlagent.agent.commands.run  # noqa: F401


def test_the_shipped_nano_is_a_qwen2vl_folder_under_20_mb_with_its_card():
    folder = resolve_model("vlagent-nano")
    from pathlib import Path

    files = {p.name for p in Path(folder).iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json", CARD_FILE} <= files
    assert (Path(folder) / "model.safetensors").stat().st_size <= 20 * 2**20
    assert json.loads((Path(folder) / "config.json").read_text())["model_type"] == "qwen2_vl"
    card = model_card("vlagent-nano")
    assert card is not None and card.profile == "qwen2-vl"
    assert card.history_images == 1 and card.max_pixels == 160_000
    assert "synthetic apps only" in card.about


def test_a_missing_shipped_folder_is_a_clear_load_error(monkeypatch, tmp_path):
    monkeypatch.setitem(catalog.SHIPPED_MODELS, "vlagent-nano", tmp_path / "gone")
    with pytest.raises(ModelLoadError, match="vlagent-nano.*missing from this install"):
        resolve_model("vlagent-nano")


def test_other_references_pass_through_and_have_no_card(tmp_path):
    assert resolve_model("Qwen/Qwen2-VL-7B-Instruct") == "Qwen/Qwen2-VL-7B-Instruct"
    assert model_card("Qwen/Qwen2-VL-7B-Instruct") is None
    assert model_card(str(tmp_path)) is None  # a folder without a card


def test_the_card_fills_what_the_command_line_left_out_and_the_command_line_wins(tmp_path):
    ModelCard(profile="ui-tars", min_pixels=3136, max_pixels=50_000, history_images=1, about="test model").write(tmp_path)
    filled = choose_backend(None, str(tmp_path))
    assert (filled.kind, filled.profile, filled.min_pixels, filled.max_pixels, filled.history_images) == (
        "transformers", "ui-tars", 3136, 50_000, 1)
    assert filled.kwargs["max_pixels"] == 50_000  # the backend resizes to the same budget the loop converts with
    given = choose_backend(None, str(tmp_path), profile="qwen2-vl", max_pixels=200_000, history_images=3)
    assert (given.profile, given.max_pixels, given.history_images, given.min_pixels) == ("qwen2-vl", 200_000, 3, 3136)
    assert "test model" in given.banner()


def test_no_card_keeps_the_defaults(tmp_path):
    plain = choose_backend(None, str(tmp_path))
    assert (plain.profile, plain.max_pixels, plain.history_images) == ("qwen2-vl", None, 2)
    assert plain.banner() is None


@pytest.mark.parametrize("text", ["{not json", '{"max_pixels": -5}', '{"history_images": "two"}'])
def test_a_broken_card_is_a_load_error_naming_the_file(tmp_path, text):
    (tmp_path / CARD_FILE).write_text(text)
    with pytest.raises(ModelLoadError, match=CARD_FILE):
        model_card(str(tmp_path))


def test_the_default_is_one_switch(monkeypatch):
    assert choose_backend(None, None).scripted_default
    monkeypatch.setattr(agent_options, "DEFAULT_MODEL", "vlagent-nano")
    nano = choose_backend(None, None)
    assert (nano.kind, nano.model_name, nano.default, nano.scripted_default) == (
        "transformers", "vlagent-nano", True, False)
    assert nano.banner().startswith("NOTE: no --backend/--model given, so this runs vlagent-nano:")


def test_run_with_the_nano_uses_its_budget_and_says_which_model_ran(tmp_path):
    _register_commands()
    result = CliRunner().invoke(app, [
        "run", "--model", "vlagent-nano", "--env", "synthetic:dialog", "--env-kwargs", '{"size": "phone"}',
        "--seed", "10001", "--out", str(tmp_path), "--max-steps", "3", "--json", "--no-report",
    ])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "model: vlagent-nano: a ~4.4M-parameter Qwen2-VL" in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["scripted"] is False and summary["steps"] >= 1
    meta = json.loads((tmp_path / summary["episode_id"] / "meta.json").read_text())
    assert meta["backend"] == "transformers" and meta["model"].endswith("weights/vlagent-nano")
    assert meta["backend_options"]["max_pixels"] == 160_000
    assert (meta["geometry"]["resized_width"], meta["geometry"]["resized_height"]) == (252, 588)


def test_vlagent_train_writes_the_card_of_what_it_trained_with(tiny_qwen2vl_path, tmp_path):
    import vlagent.agent.commands.train  # noqa: F401

    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "train", "--model", str(tiny_qwen2vl_path), "--out", str(out), "--synthetic", "1", "--synthetic-apps",
        "dialog", "--synthetic-sizes", "320x240", "--batch-size", "2", "--device", "cpu", "--no-progress",
        "--steps", "1", "--history-images", "1", "--max-pixels", "40000", "--min-pixels", "3136",
    ])
    assert result.exit_code == 0, result.output + repr(result.exception)
    card = model_card(str(out / "model"))
    assert card is not None
    assert (card.profile, card.max_pixels, card.min_pixels, card.history_images) == ("qwen2-vl", 40_000, 3136, 1)
    assert "synthetic apps (dialog) at 320x240 only" in card.about
    choice = choose_backend(None, str(out / "model"))
    assert (choice.max_pixels, choice.history_images) == (40_000, 1)


def test_shipping_keeps_the_card_training_wrote_and_leaves_training_leftovers_behind(tmp_path):
    import shutil

    from vlagent.model.nano import NANO_ABOUT, ship_nano

    trained = tmp_path / "run" / "model"
    shutil.copytree(resolve_model("vlagent-nano"), trained)
    ModelCard(profile="qwen2-vl", min_pixels=3136, max_pixels=200_704, history_images=2,
              about="fine-tuned by `vlagent train` from runs/nano/init").write(trained)
    (trained / "checkpoints").mkdir()
    (trained / "train_log.jsonl").write_text("{}\n")
    shipped = ship_nano(trained, tmp_path / "shipped")
    card = ModelCard.read(shipped)
    # How the model must be asked is what it was trained with, not what the constants say today.
    assert (card.max_pixels, card.history_images) == (200_704, 2)
    assert card.about == NANO_ABOUT
    assert {p.name for p in shipped.iterdir()} == {p.name for p in trained.iterdir()} - {"checkpoints", "train_log.jsonl"}
    (trained / CARD_FILE).unlink()
    with pytest.raises(ModelLoadError, match=CARD_FILE):
        ship_nano(trained, tmp_path / "again")

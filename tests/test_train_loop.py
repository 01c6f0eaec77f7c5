"""The trainer on the tiny real Qwen2-VL: it learns replies, the export serves them, resume is exact.

Samples come from the synthetic dialog app through the real loop (the oracle's chats and replies), so the
prompts are the ones `vlagent run` builds; the exported folder is loaded by the real TransformersBackend,
whose greedy replies must then be the training replies, token for token.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from vlagent.agent.cli import _register_commands, app
from vlagent.agent.training_data import synthetic_samples
from vlagent.model.chat import GenerationOptions
from vlagent.model.training import CheckpointError, SampleEncoder, TrainConfig, Trainer, TrainingError
from vlagent.model.training.checkpoint import list_checkpoints
from vlagent.model.training.encode import IGNORE_INDEX
from vlagent.model.transformers_backend import TransformersBackend

pytest_plugins = ("model_fixtures",)  # tiny_qwen2vl_path
pytestmark = pytest.mark.timeout(240)
SIZE = (320, 240)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def samples():
    """Four samples with four different prompts: grounding and episode steps of two dialog screens."""
    report = synthetic_samples("qwen2-vl", 2, apps=["dialog"], sizes=[SIZE])
    seen: set[str] = set()
    out = []
    for s in report.samples:
        key = s.chat.messages[-1].text
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out[:4]


def _cfg(**kw) -> TrainConfig:
    base = {"steps": 18, "batch_size": 4, "lr": 3e-3, "device": "cpu", "checkpoint_every": 0, "seed": 0}
    return TrainConfig(**{**base, **kw})


def _served_replies(model_dir: Path, samples) -> list[str]:
    backend = TransformersBackend(model_dir, device="cpu")
    gens = backend.generate([s.chat for s in samples], GenerationOptions(max_new_tokens=48))
    return [g.text for g in gens]


def test_loss_falls_on_the_reply_only_and_the_prompt_is_the_backends(tiny_qwen2vl_path, tiny_backend, samples):
    enc = SampleEncoder(tiny_backend.tokenizer, tiny_backend.image_processor,
                        image_token_id=tiny_backend.image_token_id, video_token_id=tiny_backend.video_token_id)
    sample = samples[0]
    e = enc.encode(sample)
    labelled = e.input_ids[e.labels != IGNORE_INDEX].tolist()
    assert tiny_backend.tokenizer.decode(labelled) == sample.reply + "<|im_end|>"
    gen = tiny_backend.generate([sample.chat], GenerationOptions(max_new_tokens=1))[0]
    prompt_len = int((e.labels == IGNORE_INDEX).sum())
    assert prompt_len == gen.prompt_tokens  # the exact prompt the backend feeds at inference
    batch = enc.collate([enc.encode(s) for s in samples[:2]])
    assert int((batch["mm_token_type_ids"] == 1).sum()) == 2 * gen.visual_tokens
    assert bool((batch["labels"][batch["mm_token_type_ids"] == 1] == IGNORE_INDEX).all())


def test_full_finetune_overfits_and_the_exported_folder_serves_the_replies(tiny_qwen2vl_path, samples, tmp_path):
    result = Trainer(tiny_qwen2vl_path, samples, tmp_path / "run", _cfg()).run()
    assert result.losses[0] > 5 and result.losses[-1] < 0.05
    assert {"digit_loss", "samples_per_s", "token_accuracy"} <= set(result.log[-1])
    assert len(result.log[-1]["digit_loss_by_place"]) == 3  # coordinates in 0-999: up to three places
    assert len((tmp_path / "run" / "train_log.jsonl").read_text().splitlines()) == 18
    assert _served_replies(result.model_dir, samples) == [s.reply for s in samples]


def test_lora_trains_adapters_only_and_the_merged_export_serves_the_replies(tiny_qwen2vl_path, samples, tmp_path):
    from safetensors.torch import load_file

    trainer = Trainer(tiny_qwen2vl_path, samples, tmp_path / "run", _cfg(lora=True, lr=1e-2))
    result = trainer.run()
    model = trainer.loaded.model
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n and "language_model" in n for n in trainable)
    assert result.losses[-1] < 0.05
    # The base weights did not move: the exported folder differs from the base only by the merged adapters.
    base = load_file(str(tiny_qwen2vl_path / "model.safetensors"))
    merged = load_file(str(result.model_dir / "model.safetensors"))
    vision = [k for k in base if "visual" in k]
    assert vision and all(torch.equal(base[k], merged[k]) for k in vision)
    assert any(not torch.equal(base[k], merged[k]) for k in base if k.endswith("q_proj.weight"))
    assert (result.model_dir / "adapter" / "adapter_config.json").is_file()
    assert _served_replies(result.model_dir, samples) == [s.reply for s in samples]


def test_freeze_keeps_the_named_parameters_at_the_base_weights_and_trains_the_rest(tiny_qwen2vl_path, samples,
                                                                                   tmp_path):
    from safetensors.torch import load_file

    from vlagent.model.training.checkpoint import latest_checkpoint

    cfg = _cfg(steps=4, freeze="visual", checkpoint_every=4)
    result = Trainer(tiny_qwen2vl_path, samples, tmp_path / "run", cfg).run()
    base = load_file(str(tiny_qwen2vl_path / "model.safetensors"))
    trained = load_file(str(result.model_dir / "model.safetensors"))
    vision = [k for k in base if "visual" in k]
    assert vision and all(torch.equal(base[k], trained[k]) for k in vision)
    assert any(not torch.equal(base[k], trained[k]) for k in base if k.startswith("model.layers."))
    saved = load_file(str(latest_checkpoint(tmp_path / "run") / "trainable.safetensors"))
    assert saved and not any("visual" in k for k in saved)  # a checkpoint holds what is trained, no more
    with pytest.raises(CheckpointError, match="freeze"):  # the same run only with the same frozen parameters
        Trainer(tiny_qwen2vl_path, samples, tmp_path / "run", _cfg(steps=6, checkpoint_every=4)).run()


@pytest.mark.parametrize(("pattern", "message"), [("[", "regular expression"), ("no_such_layer", "matched no"),
                                                  (".", "nothing left to train")])
def test_a_freeze_pattern_that_cannot_mean_a_run_is_a_clear_error(tiny_qwen2vl_path, samples, tmp_path, pattern,
                                                                  message):
    with pytest.raises(TrainingError, match=message):
        Trainer(tiny_qwen2vl_path, samples, tmp_path / "run", _cfg(steps=1, freeze=pattern)).run()


def test_resume_gives_the_loss_curve_of_an_uninterrupted_run(tiny_qwen2vl_path, samples, tmp_path):
    cfg = _cfg(steps=6, batch_size=2, grad_accum=2, checkpoint_every=3, keep_checkpoints=1, schedule="cosine",
               warmup_steps=2)
    whole = Trainer(tiny_qwen2vl_path, samples, tmp_path / "whole", cfg).run(export=False)
    interrupted = Trainer(tiny_qwen2vl_path, samples, tmp_path / "split", cfg).run(stop_at=3)
    assert len(interrupted.losses) == 3 and interrupted.model_dir is None
    second = Trainer(tiny_qwen2vl_path, samples, tmp_path / "split", cfg).run(export=False)
    assert second.resumed_from == 3
    assert second.losses == pytest.approx(whole.losses, rel=1e-6, abs=1e-7)
    assert [line["lr"] for line in second.log] == pytest.approx([line["lr"] for line in whole.log])
    assert [step for step, _ in list_checkpoints(tmp_path / "split")] == [6]  # keep_checkpoints=1
    with pytest.raises(CheckpointError, match="lr"):
        Trainer(tiny_qwen2vl_path, samples, tmp_path / "split", _cfg(**{**cfg.__dict__, "steps": 8, "lr": 1e-3})).run()


def test_cli_trains_exports_and_resumes(tiny_qwen2vl_path, tmp_path):
    _register_commands()
    out = tmp_path / "run"
    args = ["train", "--model", str(tiny_qwen2vl_path), "--out", str(out), "--synthetic", "1", "--synthetic-apps",
            "dialog", "--synthetic-sizes", "320x240", "--batch-size", "2", "--device", "cpu", "--no-progress",
            "--checkpoint-every", "1"]
    first = CliRunner().invoke(app, [*args, "--steps", "2"])
    assert first.exit_code == 0, first.output + repr(first.exception)
    assert json.loads(first.stdout.strip().splitlines()[-3])["step"] == 2
    assert (out / "model" / "config.json").is_file() and (out / "model" / "preprocessor_config.json").is_file()
    again = CliRunner().invoke(app, [*args, "--steps", "3"])
    assert again.exit_code == 0, again.output + repr(again.exception)
    assert "resumed from step 2" in again.output
    assert len((out / "train_log.jsonl").read_text().splitlines()) == 3


def test_cli_passes_the_copy_supervision_through(tiny_qwen2vl_path, tmp_path):
    """The nano recipe's copy terms are command-line flags; each must reach the run (its log and its checkpoint)."""
    _register_commands()
    out = tmp_path / "run"
    flags = {"--copy-aux": "copy_aux", "--copy-readout-aux": "copy_readout_aux", "--prev-token-aux": "prev_token_aux"}
    args = ["train", "--model", str(tiny_qwen2vl_path), "--out", str(out), "--synthetic", "1", "--synthetic-apps",
            "login", "--synthetic-sizes", "320x240", "--batch-size", "2", "--device", "cpu", "--no-progress",
            "--steps", "1", "--checkpoint-every", "1", "--pointer-aux", "1.0"]
    for i, flag in enumerate(flags):
        args += [flag, str(0.5 + i)]
    run = CliRunner().invoke(app, [*args, "--freeze", "visual"])
    assert run.exit_code == 0, run.output + repr(run.exception)
    logged = json.loads((out / "train_log.jsonl").read_text().splitlines()[0])
    assert {"aux_copy", "aux_copy_readout", "aux_prev_token"} <= logged.keys()
    saved = json.loads((list_checkpoints(out)[-1][1] / "state.json").read_text())["config"]
    assert [saved[name] for name in flags.values()] == [0.5, 1.5, 2.5]
    assert saved["freeze"] == "visual"


def test_cli_counts_made_up_sign_ins_apart(tiny_qwen2vl_path, tmp_path):
    _register_commands()
    args = ["train", "--model", str(tiny_qwen2vl_path), "--out", str(tmp_path / "run"), "--synthetic", "1",
            "--synthetic-typing", "2", "--kinds", "typing", "--synthetic-sizes", "512x384", "--batch-size", "2",
            "--device", "cpu", "--no-progress", "--steps", "1"]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output + repr(run.exception)
    assert "4 samples;" in run.output  # two sign-ins, a username and a password each


def test_cli_builds_made_up_credentials_from_the_base_models_word_pieces(tiny_qwen2vl_path, tmp_path, monkeypatch):
    from transformers import AutoTokenizer

    import vlagent.agent.training_data as training_data

    _register_commands()
    real, seen = training_data.synthetic_samples, []

    def recording(*args, **kwargs):  # the real draw; only what the CLI passed is kept
        seen.append(kwargs.get("credential_pieces", ()))
        return real(*args, **kwargs)

    monkeypatch.setattr(training_data, "synthetic_samples", recording)
    expected = training_data.tokenizer_credential_pieces(AutoTokenizer.from_pretrained(tiny_qwen2vl_path))
    base = ["train", "--model", str(tiny_qwen2vl_path), "--synthetic", "1", "--synthetic-typing", "1",
            "--kinds", "typing", "--synthetic-sizes", "512x384", "--batch-size", "2", "--device", "cpu",
            "--no-progress", "--steps", "1"]
    runs = [CliRunner().invoke(app, [*base, flag, "--out", str(tmp_path / flag)])
            for flag in ("--typing-pieces", "--no-typing-pieces")]
    assert [r.exit_code for r in runs] == [0, 0], runs[0].output + runs[1].output
    assert expected and list(seen[0]) == list(expected) and not seen[1]
    assert f"{len(expected)} word pieces" in runs[0].output


def test_eval_hook_runs_vlagent_eval_on_heldout_seeds_and_logs_success(tiny_qwen2vl_path, samples, tmp_path):
    from vlagent.agent.train_eval import heldout_eval_hook
    from vlagent.agent.training_data import HELDOUT_SEED

    out = tmp_path / "run"
    hook = heldout_eval_hook(out, profile="qwen2-vl", episodes=2, apps=["dialog"], sizes=[SIZE], max_steps=2,
                             device="cpu")
    result = Trainer(tiny_qwen2vl_path, samples, out, _cfg(steps=2, eval_every=2), on_eval=hook).run(export=False)
    figures = result.evals[0]
    assert figures["step"] == 2 and figures["eval"]["episodes"] == 2
    assert 0.0 <= figures["eval"]["success_rate"] <= 1.0
    results = json.loads(Path(figures["eval"]["results"]).read_text())
    assert sorted(e["seed"] for e in results["episodes"]) == [HELDOUT_SEED, HELDOUT_SEED + 1]
    logged = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert any("eval" in line for line in logged)

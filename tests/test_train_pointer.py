"""The grounding supervision (model/training/pointer_aux.py): it points where the reply's point is, it trains
alongside the reply loss, resumes exactly and leaves nothing of itself in the exported model."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from vlagent.agent.training_data import synthetic_samples
from vlagent.model.training import TrainConfig, Trainer
from vlagent.model.training.checkpoint import latest_checkpoint
from vlagent.model.training.errors import CheckpointError, TrainingError
from vlagent.model.training.pointer_aux import (
    COPY_HEAD,
    LABEL_CLASSES,
    POINTER_HEAD,
    PREV_TOKEN_HEAD,
    PREV_TOKEN_LAYER,
    PointerAux,
    cell_digits,
    cell_labels,
    copy_targets,
    first_point,
    label_class,
    near_cells,
    task_span,
    widget_cells,
)

pytest_plugins = ("model_fixtures",)  # tiny_qwen2vl_path
pytestmark = pytest.mark.timeout(240)
IMG = 99


def _fake(rows: int, cols: int, attend: list[int] | None,
          target: str = "near") -> tuple[PointerAux, SimpleNamespace, dict, torch.Tensor]:
    """One sample: 2 prompt tokens, rows*cols visual tokens, then a reply ``( 5 0 0 , 5 0 0 )``."""
    digits = list(range(10))
    vis = rows * cols
    ids = torch.tensor([[50, 51] + [IMG] * vis + [60, 5, 0, 0, 61, 5, 0, 0, 62]])
    labels = ids.clone()
    labels[0, : 2 + vis] = -100
    seq = ids.shape[1]
    att = torch.full((1, 2, seq, seq), 1.0 / seq)
    if attend is not None:
        att[0, POINTER_HEAD] = 0
        att[0, POINTER_HEAD, :, [2 + i for i in attend]] = 1.0 / len(attend)
    hidden = torch.zeros(1, seq, 8)
    outputs = SimpleNamespace(hidden_states=(hidden, hidden, hidden), attentions=(att, att))
    batch = {"input_ids": ids, "image_grid_thw": torch.tensor([[1, 2 * rows, 2 * cols]])}
    aux = PointerAux(8, 1.0, digit_ids=digits, image_token_id=IMG, target=target)
    return aux, outputs, batch, labels


def test_the_pointer_loss_is_zero_on_the_points_cells_and_high_elsewhere():
    rows, cols = 4, 6
    near = near_cells((500, 500), rows, cols).tolist()
    assert near == [r * cols + c for r in (1, 2, 3) for c in (2, 3, 4)]  # (500,500) is in row 2, column 3
    aux, out, batch, labels = _fake(rows, cols, near)
    _, on = aux.losses(out, batch, labels, [(500, 500)])
    aux, out, batch, labels = _fake(rows, cols, [0])  # all mass on the top-left cell
    _, off = aux.losses(out, batch, labels, [(500, 500)])
    aux, out, batch, labels = _fake(rows, cols, None)  # uniform: 9 of the sequence's tokens
    _, uniform = aux.losses(out, batch, labels, [(500, 500)])
    assert on["aux_pointer"] == pytest.approx(0.0, abs=1e-5)
    assert off["aux_pointer"] > 10
    assert uniform["aux_pointer"] == pytest.approx(-math.log(9 / batch["input_ids"].shape[1]), rel=1e-4)
    _, none = aux.losses(out, batch, labels, [None])  # a reply without a point: no pointer term
    assert none["aux_pointer"] == 0.0


def test_the_widget_target_rewards_the_widgets_own_cells_not_the_rows_beside_it():
    """The 3x3 target is met by attending above and below a button, which finds its row without reading it."""
    rows, cols = 4, 6
    button = (330, 500, 840, 750)  # row 2, columns 2-4 (centres x 417/583/750, y 625)
    own = widget_cells(button, (500, 600), rows, cols).tolist()
    assert own == [2 * cols + c for c in (2, 3, 4)]
    beside = [r * cols + c for r in (1, 3) for c in (2, 3, 4)]  # the rows above and below: in the 3x3, not on it
    for attend, near_loss, widget_loss in ((own, "low", "low"), (beside, "low", "high")):
        got = {}
        for target in ("near", "widget"):
            aux, out, batch, labels = _fake(rows, cols, attend, target)
            got[target] = aux.losses(out, batch, labels, [(500, 600)], [[(*button, "OK")]])[1]["aux_pointer"]
        assert (got["near"] < 1e-4) == (near_loss == "low")
        assert (got["widget"] < 1e-4) == (widget_loss == "low"), (attend, got)
    # A widget thinner than a cell covers no cell centre: the cell under the point stands in for it.
    assert widget_cells((0, 0, 1000, 10), (700, 5), rows, cols).tolist() == [4]
    # Without a layout (a recorded trajectory) the widget target falls back to the 3x3 cells.
    aux, out, batch, labels = _fake(rows, cols, near_cells((500, 600), rows, cols).tolist(), "widget")
    assert aux.losses(out, batch, labels, [(500, 600)], [()])[1]["aux_pointer"] < 1e-4
    with pytest.raises(TrainingError, match="pointer_target"):
        TrainConfig(pointer_aux=1.0, pointer_target="box")


def test_the_position_targets_are_the_cell_centres_the_reply_would_write():
    digits = cell_digits(2, 4)
    # cell (row 1, col 2): centre x = 2.5/4 = 625, y = 1.5/2 = 750
    assert digits[1 * 4 + 2].tolist() == [6, 2, 7, 5]
    assert first_point("The next step is to click.\nclick(<|box_start|>(625,750)<|box_end|>)") == (625, 750)


def test_each_cell_is_labelled_by_the_topmost_widget_over_its_centre():
    # a 2x4 grid: cell centres at x 125/375/625/875, y 250/750
    layout = [(0, 0, 1000, 1000, "Backdrop"), (300, 500, 700, 1000, "OK"), (600, 500, 1000, 1000, "Cancel")]
    got = cell_labels(layout, 2, 4).view(2, 4).tolist()
    bd, ok, cancel = (label_class(t) for t in ("Backdrop", "OK", "Cancel"))
    assert got == [[bd, bd, bd, bd], [bd, ok, cancel, cancel]]
    assert cell_labels([], 2, 4).tolist() == [0] * 8
    assert all(0 < label_class(t) < LABEL_CLASSES for t in ("OK", "Cancel", "x" * 300))


def test_the_label_terms_ask_what_is_under_each_cell_and_what_the_point_lands_on():
    rows, cols = 4, 6
    aux, out, batch, labels = _fake(rows, cols, None)
    layout = [(400, 400, 600, 600, "OK")]  # the (500, 500) point is on it
    _, with_layout = aux.losses(out, batch, labels, [(500, 500)], [layout])
    # The probe starts near uniform over the label classes: both terms near log(classes).
    assert with_layout["aux_label_seen"] == pytest.approx(math.log(LABEL_CLASSES), rel=0.05)
    assert with_layout["aux_label_wanted"] == pytest.approx(math.log(LABEL_CLASSES), rel=0.05)
    _, off_widget = aux.losses(out, batch, labels, [(100, 100)], [layout])  # the point is on no widget
    assert off_widget["aux_label_wanted"] == 0.0 and off_widget["aux_label_seen"] > 0
    _, without = aux.losses(out, batch, labels, [(500, 500)], [()])  # no ground truth: no label terms
    assert without["aux_label_seen"] == without["aux_label_wanted"] == 0.0


def test_synthetic_samples_carry_the_widgets_of_the_screen_they_show():
    report = synthetic_samples("qwen2-vl", 1, apps=["dialog"], sizes=["phone"], points_only=True,
                               max_pixels=160000, min_pixels=3136, history_images=1)
    pointed = [s for s in report.samples if first_point(s.reply)]
    assert pointed
    for sample in pointed:
        x, y = first_point(sample.reply)
        hit = [w for w in sample.layout if w[0] <= x < w[2] and w[1] <= y < w[3]]
        assert hit, f"{sample.source}: the reply's point ({x}, {y}) is on none of {sample.layout}"
        task = sample.chat.messages[-1].content[-1].text
        if "Click the" in task:  # a grounding sample names the label its point lands on
            assert hit[-1][4] in task


@pytest.fixture(scope="module")
def samples():
    report = synthetic_samples("qwen2-vl", 2, apps=["dialog"], sizes=[(320, 240)], points_only=True)
    seen, out = set(), []
    for s in report.samples:
        if first_point(s.reply) and s.chat.messages[-1].text not in seen:
            seen.add(s.chat.messages[-1].text)
            out.append(s)
    return out[:4]


def _cfg(**kw) -> TrainConfig:
    base = {"steps": 24, "batch_size": 4, "lr": 3e-3, "device": "cpu", "checkpoint_every": 0, "seed": 0,
            "pointer_aux": 1.0, "threads": 1}
    return TrainConfig(**{**base, **kw})


def test_training_with_the_pointer_lowers_both_aux_losses_and_exports_a_plain_model(tiny_qwen2vl_path, samples,
                                                                                      tmp_path):
    result = Trainer(tiny_qwen2vl_path, samples, tmp_path / "run", _cfg()).run()
    first, last = result.log[0], result.log[-1]
    assert last["aux_pointer"] < 0.5 * first["aux_pointer"]
    assert last["aux_position"] < 0.7 * first["aux_position"]
    assert last["aux_label_seen"] < 0.7 * first["aux_label_seen"]
    assert last["aux_label_wanted"] < 0.7 * first["aux_label_wanted"]
    assert last["loss"] < 0.2 * first["loss"]
    exported = load_file(str(result.model_dir / "model.safetensors"))
    assert not any("pointer" in k for k in exported)
    assert set(exported) == set(load_file(str(tiny_qwen2vl_path / "model.safetensors")))


def test_a_resumed_pointer_run_continues_the_probe_exactly(tiny_qwen2vl_path, samples, tmp_path):
    cfg = _cfg(steps=4, batch_size=2, checkpoint_every=2)
    whole = Trainer(tiny_qwen2vl_path, samples, tmp_path / "whole", cfg).run(export=False)
    Trainer(tiny_qwen2vl_path, samples, tmp_path / "split", cfg).run(stop_at=2)
    second = Trainer(tiny_qwen2vl_path, samples, tmp_path / "split", cfg).run(export=False)
    assert second.resumed_from == 2
    for key in ("loss", "aux_position", "aux_pointer", "aux_label_seen", "aux_label_wanted"):
        assert [line[key] for line in second.log] == pytest.approx([line[key] for line in whole.log], rel=1e-5)


def test_screens_resized_ahead_give_the_processor_the_same_pixels(tiny_backend):
    """Synthetic samples keep their screenshots at the processor's size: the model input is unchanged."""
    from vlagent.model.training import SampleEncoder
    from vlagent.model.training.sample import at_model_size

    enc = SampleEncoder(tiny_backend.tokenizer, tiny_backend.image_processor,
                        image_token_id=tiny_backend.image_token_id, video_token_id=tiny_backend.video_token_id)
    full = synthetic_samples("qwen2-vl", 2, apps=["home"], sizes=["phone"], kinds=["grounding"],
                             max_pixels=160000, min_pixels=3136).samples[:3]
    for s in full:
        assert s.chat.messages[-1].content[0].image.size == (252, 588)  # already small
    # Against a full-size screenshot of the same screen, rebuilt by hand:
    from PIL import Image

    from vlagent.model.chat import Chat, ImagePart, Message
    from vlagent.model.training.sample import TrainingSample

    big = Image.new("RGB", (1080, 2400), (30, 120, 200))
    big.paste((250, 250, 250), (100, 300, 700, 900))
    sample = TrainingSample(Chat([Message("user", [ImagePart(big, 3136, 160000)])]), "click()")
    a, b = enc.encode(sample), enc.encode(at_model_size(sample))
    assert torch.equal(a.pixel_values[0], b.pixel_values[0]) and torch.equal(a.input_ids, b.input_ids)


def test_a_second_stage_starts_its_probes_where_the_first_left_them(tiny_qwen2vl_path, samples, tmp_path):
    """A two-stage recipe: the model from stage 1's export, the probes from its checkpoint (--pointer-aux-from)."""
    first = Trainer(tiny_qwen2vl_path, samples, tmp_path / "one", _cfg(steps=20)).run()
    probes = latest_checkpoint(tmp_path / "one")
    stage = _cfg(steps=1, lr=1e-9, pointer_target="widget")
    warm = Trainer(first.model_dir, samples, tmp_path / "warm", stage, aux_init=probes).run(export=False)
    cold = Trainer(first.model_dir, samples, tmp_path / "cold", stage).run(export=False)
    # Fresh probes read nothing yet; the carried ones read what stage 1 taught them.
    assert warm.log[0]["aux_label_seen"] < 0.5 * cold.log[0]["aux_label_seen"]
    assert warm.log[0]["aux_position"] < 0.7 * cold.log[0]["aux_position"]
    with pytest.raises(CheckpointError, match="extra.safetensors"):
        Trainer(first.model_dir, samples, tmp_path / "bad", stage, aux_init=tmp_path).run(export=False)
    with pytest.raises(TrainingError, match="pointer_aux"):
        Trainer(first.model_dir, samples, tmp_path / "bad", _cfg(pointer_aux=0.0), aux_init=probes)


def test_a_checkpoint_from_before_the_pointer_target_option_resumes_as_near(tiny_qwen2vl_path, samples, tmp_path):
    import json

    cfg = _cfg(steps=2, batch_size=2, checkpoint_every=1)
    Trainer(tiny_qwen2vl_path, samples, tmp_path / "run", cfg).run(stop_at=1)
    state_file = latest_checkpoint(tmp_path / "run") / "state.json"
    state = json.loads(state_file.read_text())
    del state["config"]["pointer_target"]  # as an older vlagent wrote it
    state_file.write_text(json.dumps(state))
    assert Trainer(tiny_qwen2vl_path, samples, tmp_path / "run", cfg).run(export=False).resumed_from == 1
    with pytest.raises(CheckpointError, match="pointer_target"):
        Trainer(tiny_qwen2vl_path, samples, tmp_path / "run", _cfg(steps=2, batch_size=2, checkpoint_every=1,
                                                                     pointer_target="widget")).run(export=False)


def _copy_case(attend: list[int] | None):
    """Task ``name 41 22 ok`` after one visual token, then a reply that types ``41 22`` (ids: 41, 22).

    Positions: 0 prompt, 1 image, 2 ``name``, 3 ``41``, 4 ``22``, 5 ``ok``, 6 line break, 7 ``type``,
    8 ``(``, then the reply ``41 22 )`` at 9-11. The copy head attends from every query to ``attend``.
    """
    ids = torch.tensor([[50, IMG, 70, 41, 22, 71, 9, 72, 73, 41, 22, 74]])
    labels = torch.full_like(ids, -100)
    labels[0, 9:] = ids[0, 9:]
    seq = ids.shape[1]
    att = torch.full((1, 2, seq, seq), 1.0 / seq)
    if attend is not None:
        att[0, COPY_HEAD] = 0
        att[0, COPY_HEAD, :, attend] = 1.0
    hidden = torch.zeros(1, seq, 8)
    outputs = SimpleNamespace(hidden_states=(hidden, hidden, hidden), attentions=(att, att))
    batch = {"input_ids": ids, "image_grid_thw": torch.tensor([[1, 2, 2]])}
    aux = PointerAux(8, 1.0, digit_ids=list(range(10)), image_token_id=IMG, copy_weight=1.0, line_breaks=[9])
    return aux, outputs, batch, labels


def test_the_copy_head_is_asked_to_look_up_in_the_task_what_the_reply_types():
    ids = [50, IMG, 70, 41, 22, 71, 9, 72, 73, 41, 22, 74]
    assert task_span(ids, 2, {9}) == (2, 6)  # the task line ends at the first line break
    # Writing 41 (predicted at 8) copies position 3; writing 22 after 41 copies position 4; ")" is no copy.
    assert copy_targets(ids, [-100] * 9 + [41, 22, 74], (2, 6)) == [(8, [3]), (9, [4])]
    # Outside the task line (the history, the action list) nothing is a copy source.
    assert copy_targets(ids, [-100] * 9 + [41, 22, 74], (6, 9)) == []
    for attend, low in (([3, 4], True), ([0], False)):
        aux, out, batch, labels = _copy_case(attend)
        _, parts = aux.losses(out, batch, labels, [None])
        assert (parts["aux_copy"] < 1e-4) == low, (attend, parts)
    aux, out, batch, labels = _copy_case(None)
    no_copy = PointerAux(8, 1.0, digit_ids=list(range(10)), image_token_id=IMG)
    assert "aux_copy" not in no_copy.losses(out, batch, labels, [None])[1]  # off unless asked for
    with pytest.raises(TrainingError, match="pointer_aux"):
        TrainConfig(copy_aux=1.0)


def _prev_token_case(previous: bool):
    """The copy case's prompt; the first layer's previous-token head attends to each token's predecessor or to itself."""
    _, outputs, batch, labels = _copy_case(None)
    seq = batch["input_ids"].shape[1]
    first = torch.full((1, 2, seq, seq), 1.0 / seq)
    first[0, PREV_TOKEN_HEAD] = torch.eye(seq).roll(-1, 1) if previous else torch.eye(seq)
    outputs.attentions = (first, outputs.attentions[1])
    aux = PointerAux(8, 1.0, digit_ids=list(range(10)), image_token_id=IMG, prev_token_weight=1.0, line_breaks=[9])
    return aux, outputs, batch, labels


def test_a_first_layer_head_is_asked_to_attend_to_each_task_tokens_predecessor():
    assert PREV_TOKEN_LAYER == 0
    for previous, low in ((True, True), (False, False)):
        aux, out, batch, labels = _prev_token_case(previous)
        _, parts = aux.losses(out, batch, labels, [None])
        assert (parts["aux_prev_token"] < 1e-4) == low, (previous, parts)
    aux, out, batch, labels = _prev_token_case(True)
    # Only the task line counts: a head that looks back everywhere but there is not what is asked for.
    out.attentions[0][0, PREV_TOKEN_HEAD, 3:6] = torch.eye(batch["input_ids"].shape[1])[3:6]
    assert aux.losses(out, batch, labels, [None])[1]["aux_prev_token"] > 5
    no_prev = PointerAux(8, 1.0, digit_ids=list(range(10)), image_token_id=IMG)
    assert "aux_prev_token" not in no_prev.losses(out, batch, labels, [None])[1]  # off unless asked for
    with pytest.raises(ValueError, match="line-break"):
        PointerAux(8, 1.0, digit_ids=list(range(10)), image_token_id=IMG, prev_token_weight=1.0)
    with pytest.raises(TrainingError, match="pointer_aux"):
        TrainConfig(prev_token_aux=1.0)


@pytest.fixture(scope="module")
def typing_samples():
    report = synthetic_samples("qwen2-vl", 2, apps=["login"], sizes=[(512, 384)], points_only=True, max_pixels=50_000)
    return [s for s in report.samples if "type(" in s.reply][:4]


def test_training_with_the_copy_term_lowers_it(tiny_qwen2vl_path, typing_samples, tmp_path):
    assert len(typing_samples) >= 2
    cfg = _cfg(copy_aux=1.0, copy_readout_aux=1.0, steps=16)
    result = Trainer(tiny_qwen2vl_path, typing_samples, tmp_path / "run", cfg).run(export=False)
    first, last = result.log[0], result.log[-1]
    assert first["aux_copy"] > 1.0  # a fresh head spreads its attention over the whole prompt
    assert last["aux_copy"] < 0.5 * first["aux_copy"]
    assert last["aux_copy_readout"] < 0.5 * first["aux_copy_readout"]
    with pytest.raises(TrainingError, match="copy_aux"):
        TrainConfig(pointer_aux=1.0, copy_readout_aux=1.0)


def test_training_with_the_previous_token_term_grows_a_previous_token_head(tiny_qwen2vl_path, typing_samples,
                                                                          tmp_path):
    cfg = _cfg(prev_token_aux=1.0, steps=16)
    result = Trainer(tiny_qwen2vl_path, typing_samples, tmp_path / "run", cfg).run(export=False)
    first, last = result.log[0], result.log[-1]
    assert first["aux_prev_token"] > 2.0  # a fresh head spreads its attention over everything before it
    assert last["aux_prev_token"] < 0.5 * first["aux_prev_token"]
    assert "aux_copy" not in last  # the term stands alone: the copy head is a separate choice


def test_the_readout_reads_the_pointer_heads_real_output_and_training_lowers_it(tiny_qwen2vl_path, samples, tmp_path):
    """The readout's head output is the slice of what the last layer's o_proj really receives."""
    from transformers import Qwen2VLForConditionalGeneration

    from vlagent.model.training import SampleEncoder
    from vlagent.model.transformers_backend import TransformersBackend

    backend = TransformersBackend(str(tiny_qwen2vl_path), device="cpu")
    model = Qwen2VLForConditionalGeneration.from_pretrained(str(tiny_qwen2vl_path), attn_implementation="eager").eval()
    enc = SampleEncoder(backend.tokenizer, backend.image_processor, image_token_id=model.config.image_token_id,
                        video_token_id=model.config.video_token_id)
    batch = enc.collate([enc.encode(samples[0])])
    batch.pop("labels")
    seen = {}
    layer = model.model.language_model.layers[-1]
    hook = layer.self_attn.o_proj.register_forward_hook(lambda m, args, out: seen.setdefault("in", args[0]))
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True, output_attentions=True)
    hook.remove()
    aux = PointerAux(model.config.text_config.hidden_size, 1.0, digit_ids=list(range(10)),
                     image_token_id=model.config.image_token_id, readout_weight=1.0).bind(model)
    dim = layer.self_attn.head_dim
    queries = torch.tensor([3, 7, batch["input_ids"].shape[1] - 1])
    with torch.no_grad():
        mine = aux.head_output(out.hidden_states[-2][0], out.attentions[-1][0, POINTER_HEAD][queries])
    real = seen["in"][0, queries, POINTER_HEAD * dim:(POINTER_HEAD + 1) * dim]
    assert torch.allclose(mine, real, atol=1e-5)
    heads = model.config.text_config.num_attention_heads  # the copy head: the last, in the other kv group
    with torch.no_grad():
        mine = aux.head_output(out.hidden_states[-2][0], out.attentions[-1][0, COPY_HEAD][queries], COPY_HEAD)
    assert torch.allclose(mine, seen["in"][0, queries, (heads - 1) * dim:heads * dim], atol=1e-5)
    assert aux.head_readout(out.hidden_states[-2][0], out.attentions[-1][0, POINTER_HEAD][queries]).shape == (3, 10)
    result = Trainer(tiny_qwen2vl_path, samples, tmp_path / "run", _cfg(readout_aux=1.0, steps=16)).run(export=False)
    assert result.log[-1]["aux_readout"] < 0.5 * result.log[0]["aux_readout"]
    with pytest.raises(TrainingError, match="readout_aux"):
        TrainConfig(readout_aux=1.0)

"""The nano checkpoint's groundwork: the untrained model's files, vocabulary and size, and its curriculum."""

from __future__ import annotations

import pytest

from vlagent.actions.models import convert_action
from vlagent.agent.curriculum import canvas_samples, draw_canvas
from vlagent.model.qwen_format import QWEN2_VL_SPECIAL_TOKENS
from vlagent.prompts import get_profile

pytest_plugins = ("model_fixtures",)
pytestmark = pytest.mark.timeout(120)


def test_nano_checkpoint_is_a_small_qwen2vl_the_backend_loads_with_one_token_per_digit(tmp_path):
    from vlagent.model.nano import build_nano_qwen2vl
    from vlagent.model.transformers_backend import TransformersBackend

    corpus = ["Click the Save button", "The next step is to click.", "click(<|box_start|>(512,301)<|box_end|>)"]
    folder = build_nano_qwen2vl(tmp_path / "nano", corpus, seed=0)
    assert (folder / "model.safetensors").stat().st_size <= 20 * 2**20
    backend = TransformersBackend(folder, device="cpu")
    params = sum(p.numel() for p in backend.model.parameters())
    assert 2_000_000 <= params <= 6_000_000
    tok = backend.tokenizer
    assert tok.tokenize("(1000,90)") == ["(", "1", "0", "0", "0", ",", "9", "0", ")"]
    ids = [tok.convert_tokens_to_ids(t) for t in QWEN2_VL_SPECIAL_TOKENS]
    assert len(set(ids)) == len(ids) and min(ids) >= 256  # every special token its own id, after the bytes
    assert type(backend.model).__name__ == "Qwen2VLForConditionalGeneration"


@pytest.mark.parametrize("kind", ["target", "distractors"])
def test_curriculum_screens_name_one_button_and_the_reply_clicks_inside_it(kind):
    import numpy as np

    profile = get_profile("qwen2-vl")
    parser = profile.make_parser()
    samples = canvas_samples(profile, kind, 6, seed=3, size=(512, 384))
    for k, sample in enumerate(samples):
        _, widgets, _ = draw_canvas(np.random.default_rng([3, k, 0 if kind == "target" else 1]), (512, 384), kind)
        assert len(widgets) == 1 if kind == "target" else 3 <= len(widgets) <= 7
        assert len({w.label for w in widgets}) == len(widgets)
        task = next(p.text for p in sample.chat.messages[-1].content if hasattr(p, "text") and "Click the" in p.text)
        named = [w for w in widgets if f"Click the {w.label} button" in task]
        assert len(named) == 1
        from vlagent.actions.coords import Geometry

        click = convert_action(parser.parse(sample.reply).actions[0], Geometry.for_image(512, 384))
        assert named[0].contains(click.point.x, click.point.y)

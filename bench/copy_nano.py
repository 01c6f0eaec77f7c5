"""Does a model copy what the task says it must type? Teacher-forced accuracy of the typed text's tokens.

The login app draws its users and passwords from a few words, so a model can type them right from memory;
made-up credentials (``--kinds typing``'s samples) can only be typed by copying them from the task. Each
sample's reply is fed to the model with its prompt (screenshot included, as the trainer encodes it), and
every token inside the typed text is checked: is it the model's top prediction, given the tokens before it?
A model that copies gets the made-up credentials about as right as the app's own; one that remembers gets
only the app's. The copy head's attention (the last layer's head the recipe's ``--copy-aux`` supervises) is
measured at the same tokens: the share of it on the task positions that hold the token to type
(``copy_targets``). A head that has learnt to look tokens up keeps that share on strings it never saw.
The first layer's previous-token head (``--prev-token-aux``) is measured too: its attention from each task
token to the one before it, which the copy head's lookup of a string never seen matches on.

    .venv/bin/python bench/copy_nano.py vlagent-nano
    .venv/bin/python bench/copy_nano.py runs/nano/stage4/model --samples 32

Three sets: made-up credentials of single characters, made-up ones built from the model's word pieces
(``--typing-pieces``), and the login app's own. Prints, per set, the typed tokens right, the whole texts
right, the first tokens right (the token after the opening quote, which has no predecessor in the task to
match on) and the copy head's attention on the right task tokens. About 15 s for 16 samples a set.
"""

from __future__ import annotations

import argparse
import sys


def typed_spans(reply: str, parser) -> list[tuple[int, int]]:
    """Character spans of ``reply`` that hold a typed text (the parsed ``type`` actions' texts)."""
    spans = []
    for action in parser.parse(reply).actions:
        if action.type == "type" and action.text:
            start = reply.find(action.text)
            if start >= 0:
                spans.append((start, start + len(action.text)))
    return spans


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a model folder or shipped name (vlagent-nano)")
    ap.add_argument("--samples", type=int, default=16, help="samples per set")
    ap.add_argument("--size", default="phone")
    ap.add_argument("--seed", type=int, default=9000, help="first synthetic seed (the recipe trains from 0)")
    args = ap.parse_args(argv)

    import torch
    from transformers import AutoImageProcessor, AutoTokenizer, Qwen2VLForConditionalGeneration

    from vlagent.agent.training_data import synthetic_samples, tokenizer_credential_pieces
    from vlagent.model.catalog import resolve_model
    from vlagent.model.training.encode import SampleEncoder
    from vlagent.model.training.pointer_aux import (
        COPY_HEAD,
        PREV_TOKEN_HEAD,
        PREV_TOKEN_LAYER,
        copy_targets,
        task_span,
    )
    from vlagent.model.training.trainer import line_break_ids
    from vlagent.prompts.profiles import get_profile

    folder = resolve_model(args.model)
    model = Qwen2VLForConditionalGeneration.from_pretrained(folder, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    line_breaks = set(line_break_ids(tokenizer))
    encoder = SampleEncoder(tokenizer, AutoImageProcessor.from_pretrained(folder),
                            image_token_id=model.config.image_token_id, video_token_id=model.config.video_token_id)
    parser = get_profile("qwen2-vl").make_parser()
    common = dict(sizes=[args.size], history_images=1, max_pixels=160_000, min_pixels=3136, points_only=True,
                  seed=args.seed)
    made_up = synthetic_samples("qwen2-vl", args.samples, kinds=["typing"], **common).samples
    from_pieces = synthetic_samples("qwen2-vl", args.samples, kinds=["typing"],
                                    credential_pieces=tokenizer_credential_pieces(tokenizer), **common).samples
    own = [s for s in synthetic_samples("qwen2-vl", args.samples, apps=["login"], kinds=["episode"], **common).samples
           if typed_spans(s.reply, parser)]
    sets = (("made-up credentials", made_up), ("made-up from word pieces", from_pieces), ("the login app's own", own))
    for name, samples in sets:
        right = total = whole = first = texts = 0
        mass: list[float] = []
        mass_first: list[float] = []
        previous: list[float] = []
        for sample in samples[: args.samples]:
            batch = encoder.collate([encoder.encode(sample)])
            labels = batch.pop("labels")[0]
            with torch.no_grad():
                out = model(**batch, output_attentions=True)
            reply_at = (labels != -100).nonzero().flatten()  # the reply's tokens, then <|im_end|>
            offsets = tokenizer(sample.reply, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
            predicted = out.logits[0, reply_at - 1].argmax(-1)  # the logits at i-1 predict token i
            ok, queries, firsts = [], set(), set()
            for start, end in typed_spans(sample.reply, parser):
                inside = [i for i, (a, b) in enumerate(offsets) if a >= start and b <= end and b > a]
                hits = [bool(predicted[i] == labels[reply_at[i]]) for i in inside]
                ok.extend(hits)
                first += bool(hits) and hits[0]  # the token after the quote: no predecessor in the task to match
                texts += 1
                queries.update(int(reply_at[i]) - 1 for i in inside)
                firsts.update(int(reply_at[i]) - 1 for i in inside[:1])
            right += sum(ok)
            total += len(ok)
            whole += bool(ok) and all(ok)
            ids = batch["input_ids"][0].tolist()
            text_start = max(i for i, t in enumerate(ids) if t == model.config.image_token_id) + 1
            attention = out.attentions[-1][0, COPY_HEAD]
            task = task_span(ids, text_start, line_breaks)
            back = out.attentions[PREV_TOKEN_LAYER][0, PREV_TOKEN_HEAD]
            previous.extend(float(back[j, j - 1]) for j in range(task[0] + 1, task[1]))
            for q, keys in copy_targets(ids, labels.tolist(), task):
                if q in queries:
                    mass.append(float(attention[q, keys].sum()))
                if q in firsts:
                    mass_first.append(float(attention[q, keys].sum()))
        share = f"{sum(mass) / len(mass):.2f} at {len(mass)} tokens" if mass else "no token found in the task"
        if mass_first:
            share += f" ({sum(mass_first) / len(mass_first):.2f} at the first tokens)"
        print(f"{name}: typed tokens right {right}/{total}, whole texts right {whole}/{min(len(samples), args.samples)}, "
              f"first tokens right {first}/{texts}, copy head's attention on the task's token {share}, "
              f"previous-token head's on the predecessor {sum(previous) / max(len(previous), 1):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

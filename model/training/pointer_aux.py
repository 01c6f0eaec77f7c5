"""Grounding supervision for a model trained from scratch: where to look, and where each visual token is.

A Qwen2-VL carries position only through rotary embeddings (2D RoPE in the vision tower, M-RoPE in the
language model), so a randomly initialised one has no way to say *where* a visual token is, and naming a
widget's coordinates digit by digit is the last thing it learns (the issue measured 2-4% click accuracy
after 2,000 steps of plain next-token loss). Auxiliary losses make the halves of pointing (and copying) explicit,
only while training; none changes the architecture or what is exported:

- **position**: a linear probe on the hidden state of every visual token of the last screenshot, at the
  input of the last decoder layer, must name the token's own cell centre as the reply would write it in
  0-999 thousandths: hundreds and tens digit of x and of y (four 10-way classifications). The last
  layer's attention then has the coordinate digits in the values it reads.
- **attention**: one head of the last layer (:data:`POINTER_HEAD`), at the reply tokens that predict the
  first point's digits, must put its mass on the visual tokens of the point (:data:`POINTER_TARGETS`):
  the 3x3 merged cells centred on it (``near``), or the cells of the widget it lands on (``widget``, for
  samples with a layout). A pointer from the task to the widget. ``near`` is the coarse first stage: it can
  be met by attending to the rows above and below the point, which a row prior finds without reading any
  label, and the nano model trained on it alone attended beside its buttons, never on them, and so could
  not tell two buttons of one row apart. ``widget`` rewards only the widget's own cells.

- **labels** (samples whose ``layout`` the synthetic apps' ground truth filled): one probe, shared by
  both ends of the pointer, must name the label of the widget under every visual token of the last
  screenshot ("what is here") and, at the reply tokens that write the first point's digits, the label of
  the widget the point lands on ("what I am looking for"). Without it the model learned to click by the
  task's wording alone: matching a wanted label to a seen one needs both features at once, and plain
  next-token loss grows neither until the other exists. With them the pointer head's query and key carry
  the same label code, and the match is one bilinear map to learn.

- **copy** (``copy_weight`` > 0): another head of the last layer (:data:`COPY_HEAD`), at each reply token
  whose next token the task line holds (a username, a password, a search term; :func:`task_span`), must
  attend to where the task holds it (:func:`copy_targets`). The nano model trained without it typed the
  same memorised username whatever the task said: copying is a lookup by content that next-token loss
  alone did not find in the recipe's few thousand typing samples.
- **readout** (``readout_weight`` > 0): what the pointer head alone adds to the residual stream at the
  reply token that writes the point's first digit, put through the model's own final norm and unembedding,
  must name that digit. The nano model trained on the widget target attended to the right button (0.9-1.0
  of the head's mass on it, on held-out seeds) while its first digit still followed the task's wording:
  the head found the widget, and nothing carried what it found into the digit. This term is that path.
- **copy readout** (``copy_readout_weight`` > 0): the same for the copy head: what it alone writes at a
  copy query must be the token it copies. With the copy term alone its attention found the username in
  the task (loss 0.01) and the reply still typed the training data's most frequent one.
- **previous token** (``prev_token_weight`` > 0): one head of the first layer (:data:`PREV_TOKEN_HEAD`), at
  every task token, must attend to the token before it. Copying a string the model never saw is an
  induction lookup: having typed ``k``, find the task position *whose previous token* is ``k`` and write
  what it holds. That needs every task position to carry its predecessor, which a previous-token head
  provides; the nano model trained without this term had none (0.05 at most in any of its heads), so its
  copy head could only match on content it had memorised, and typed made-up credentials right at 2 of 97
  tokens while it got the login app's own at 46 of 78.

The point comes from the reply itself (the first ``<|box_start|>(x,y)`` of the Qwen format, 0-999), so
every grounding or click sample of the Qwen profiles is supervised and other replies (typing, keys) add
nothing. It needs the attention weights, so the model is loaded with eager attention while it is on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

#: The first point of a Qwen-format reply: ``<|box_start|>(x,y)`` in 0-999 thousandths.
FIRST_POINT = re.compile(r"<\|box_start\|>\s*\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)")
#: The head of the last decoder layer that is taught to point.
POINTER_HEAD = 0
#: The head of the last decoder layer that is taught to copy from the task (see :func:`copy_targets`): the
#: last one, so that under grouped-query attention it reads other values than the pointer head.
COPY_HEAD = -1
#: The first layer's head that is taught to attend to the previous token (see the module docstring): an
#: early layer, so that every later layer's copy head can read the predecessor it writes into each position.
PREV_TOKEN_LAYER, PREV_TOKEN_HEAD = 0, 1
#: A reply token is a copy target only where the task text holds it at most this often.
COPY_MAX_KEYS = 2
#: Reply digits supervised per sample: the first point's (up to three for x, three for y).
POINT_DIGITS = 6
#: What the pointer head is asked to attend to (see the module docstring); ``near`` was the first recipe.
POINTER_TARGETS = ("near", "widget")
#: Label classes of the label probe: 0 is "no widget", the others a hash of the label's text.
LABEL_CLASSES = 512


def label_class(label: str) -> int:
    """The label probe's class for a widget label (stable across runs: a CRC of the lower-cased text).

    Example:
        >>> label_class("Sign in") == label_class("sign in ") != label_class("Sign out")
        True
    """
    import zlib

    return 1 + zlib.crc32(label.strip().lower().encode()) % (LABEL_CLASSES - 1)


def cell_labels(layout: Sequence[tuple[float, float, float, float, str]], rows: int, cols: int) -> Any:
    """Each merged cell's label class (0: no widget) from a sample's layout, row-major, topmost widget wins.

    Example:
        >>> cell_labels([(0, 0, 500, 1000, "OK")], 1, 2).tolist() == [label_class("OK"), 0]
        True
    """
    import torch

    x, y = _centres(rows, cols)
    out = torch.zeros(rows * cols, dtype=torch.long)
    for x1, y1, x2, y2, label in layout:
        inside = (x >= x1) & (x < x2) & (y >= y1) & (y < y2)
        out[inside] = label_class(label)
    return out


def first_point(reply: str) -> tuple[int, int] | None:
    """The first ``(x, y)`` point of a Qwen-format reply, or None.

    Example:
        >>> first_point("click(<|box_start|>(502,97)<|box_end|>)"), first_point("type('hi')")
        ((502, 97), None)
    """
    m = FIRST_POINT.search(reply)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _cells(rows: int, cols: int) -> tuple[Any, Any]:
    """Row and column index of every merged cell, row-major (the visual tokens' order)."""
    import torch

    return torch.arange(rows).repeat_interleave(cols), torch.arange(cols).repeat(rows)


def _centres(rows: int, cols: int) -> tuple[Any, Any]:
    """Every merged cell's centre, x and y in 0-1000 thousandths of the screenshot (floats), row-major."""
    r, c = _cells(rows, cols)
    return (c + 0.5) / cols * 1000, (r + 0.5) / rows * 1000


def _cell_of(point: tuple[int, int], rows: int, cols: int) -> tuple[int, int]:
    """Row and column of the merged cell holding ``point`` (0-999 thousandths)."""
    return min(int(point[1] / 1000 * rows), rows - 1), min(int(point[0] / 1000 * cols), cols - 1)


def cell_digits(rows: int, cols: int) -> Any:
    """Each cell centre's hundreds and tens digits of x and y (0-999), a ``[rows * cols, 4]`` LongTensor.

    Cells are row-major over the merged ``rows x cols`` grid, as the visual tokens are laid out.

    Example:
        >>> cell_digits(1, 2).tolist()
        [[2, 5, 5, 0], [7, 5, 5, 0]]
    """
    import torch

    x, y = (v.long().clamp(0, 999) for v in _centres(rows, cols))
    return torch.stack([x // 100, (x // 10) % 10, y // 100, (y // 10) % 10], 1)


def near_cells(point: tuple[int, int], rows: int, cols: int) -> Any:
    """Indices (row-major) of the merged cells within one cell of ``point`` (0-999 thousandths).

    Example:
        >>> near_cells((0, 0), 4, 4).tolist()
        [0, 1, 4, 5]
    """
    r, c = _cell_of(point, rows, cols)
    rr, cc = _cells(rows, cols)
    return (((rr - r).abs() <= 1) & ((cc - c).abs() <= 1)).nonzero().flatten()


def widget_cells(box: tuple[float, float, float, float], point: tuple[int, int], rows: int, cols: int) -> Any:
    """Indices (row-major) of the merged cells whose centre lies in ``box``, else the one cell holding ``point``.

    A widget thinner than a cell (a checkbox row) covers no cell centre; the cell under the point stands in.

    Example:
        >>> widget_cells((0, 0, 500, 500), (100, 100), 4, 4).tolist(), widget_cells((0, 0, 10, 10), (5, 5), 4, 4).tolist()
        ([0, 1, 4, 5], [0])
    """
    x, y = _centres(rows, cols)
    x1, y1, x2, y2 = box
    inside = ((x >= x1) & (x < x2) & (y >= y1) & (y < y2)).nonzero().flatten()
    if len(inside):
        return inside
    r, c = _cell_of(point, rows, cols)
    return inside.new_tensor([r * cols + c])


def copy_targets(ids: Sequence[int], labels: Sequence[int], task: tuple[int, int], *,
                 skip: Sequence[int] = ()) -> list[tuple[int, list[int]]]:
    """Where each reply token can be copied from: ``(query, keys)`` pairs for the copy head.

    ``ids`` and ``labels`` are one sample's token ids and labels (-100 off the reply); the reply token at
    ``q + 1`` is predicted at ``q``. Keys are the positions of the ``task`` span (start, end) that hold the
    same token, narrowed to those whose previous token is also the query's where any is (an induction
    match: ``4`` after ``falcon`` in ``'falcon48'``). A token the task does not hold, or holds more than
    :data:`COPY_MAX_KEYS` times after narrowing, is no copy. ``skip`` lists queries to leave out (the
    point's digits, which the pointer supervises).

    Example:
        >>> # prompt: [7] task [5 8 9 5] [3], reply: 5 8 3 (3 is not in the task)
        >>> copy_targets([7, 5, 8, 9, 5, 3, 5, 8, 3], [-100] * 6 + [5, 8, 3], (1, 5))
        [(5, [1, 4]), (6, [2])]
    """
    reply = [i for i, label in enumerate(labels) if label != -100]
    if not reply:
        return []
    out = []
    for q in range(max(reply[0] - 1, 0), len(ids) - 1):
        token = labels[q + 1]
        if token == -100 or q in skip:
            continue
        keys = [j for j in range(*task) if ids[j] == token]
        narrowed = [j for j in keys if j > 0 and ids[j - 1] == ids[q]]
        keys = narrowed or keys
        if 1 <= len(keys) <= COPY_MAX_KEYS:
            out.append((q, keys))
    return out


def task_span(ids: Sequence[int], text_start: int, line_breaks: set[int]) -> tuple[int, int]:
    """The task's tokens: from ``text_start`` (the text after the last screenshot) to its first line break.

    Every vlagent prompt states the task on the first line after the screenshot ("You are operating a
    smartphone. Task: ..."); history and the action list follow on later lines.

    Example:
        >>> task_span([9, 4, 5, 0, 6], 1, {0})
        (1, 3)
    """
    for j in range(text_start, len(ids)):
        if ids[j] in line_breaks:
            return text_start, j
    return text_start, len(ids)


class PointerAux:
    """The probe and the two losses (see the module docstring); ``weight`` scales both.

    Args:
        hidden_size: the language model's width.
        weight: the auxiliary losses' weight next to the reply loss (1.0 in the nano recipe).
        digit_ids: the ten single-digit token ids (``trainer.digit_token_ids``).
        image_token_id, merge_size: from the model config and image processor.
        target: what the pointer head must attend to, one of :data:`POINTER_TARGETS`.
        copy_weight: weight of the copy term (0: off).
        line_breaks: the token ids holding a line break (``trainer.line_break_ids``; the copy term's task span).
        readout_weight: weight of the readout term (0: off); it needs :meth:`bind`.
        copy_readout_weight: weight of the copy head's readout (what it alone writes must be the copied
            token; 0: off; it needs the copy term and :meth:`bind`).
        prev_token_weight: weight of the previous-token term (0: off; it needs ``line_breaks``).
    """

    def __init__(self, hidden_size: int, weight: float, *, digit_ids: list[int], image_token_id: int,
                 merge_size: int = 2, seed: int = 0, target: str = "near", copy_weight: float = 0.0,
                 line_breaks: Sequence[int] = (), readout_weight: float = 0.0,
                 copy_readout_weight: float = 0.0, prev_token_weight: float = 0.0) -> None:
        import torch

        if target not in POINTER_TARGETS:
            raise ValueError(f"pointer target must be one of {', '.join(POINTER_TARGETS)}, got {target!r}")
        self.target = target
        self.copy_weight = float(copy_weight)
        self.line_breaks = set(line_breaks)
        self.readout_weight = float(readout_weight)
        self.copy_readout_weight = float(copy_readout_weight)
        if self.copy_readout_weight and not self.copy_weight:
            raise ValueError("the copy readout needs the copy term (copy_weight > 0)")
        self._readout: tuple[Any, ...] | None = None
        self._heads = 1
        self.prev_token_weight = float(prev_token_weight)
        if (self.copy_weight or self.prev_token_weight) and not self.line_breaks:
            raise ValueError("the copy and previous-token terms need the tokenizer's line-break token ids")

        gen = torch.Generator().manual_seed(seed)
        self.probe = torch.nn.Linear(hidden_size, 40)
        self.label_probe = torch.nn.Linear(hidden_size, LABEL_CLASSES)
        with torch.no_grad():  # seeded apart from the model, so turning the aux on does not move its init
            for probe in (self.probe, self.label_probe):
                probe.weight.copy_(torch.randn(probe.weight.shape, generator=gen) * 0.02)
                probe.bias.zero_()
        self.weight = float(weight)
        self.digits = torch.tensor(digit_ids, dtype=torch.long)
        self.image_token_id = int(image_token_id)
        self.merge_size = int(merge_size)

    def bind(self, model: Any) -> PointerAux:
        """Keep the model's last decoder layer, final norm and unembedding, which the readout term runs."""
        text = model.model.language_model
        layer = text.layers[-1]
        attn = layer.self_attn
        heads = model.config.text_config.num_attention_heads
        group = heads // model.config.text_config.num_key_value_heads
        self._readout = (layer.input_layernorm, attn.v_proj, attn.o_proj, text.norm, model.lm_head,
                         attn.head_dim, group)
        self._heads = heads
        return self

    def head_output(self, hidden: Any, attention: Any, head: int = POINTER_HEAD) -> Any:
        """A last-layer head's output at some queries, as the layer's ``o_proj`` receives it.

        ``hidden``: one sample's input to the last decoder layer ``[seq, width]``; ``attention``: the
        head's weights at the queries ``[queries, seq]``. Returns ``[queries, head_dim]``.
        """
        if self._readout is None:
            raise RuntimeError("the readout terms need PointerAux.bind(model) first")
        norm_in, v_proj, _, _, _, dim, group = self._readout
        head = head % self._heads
        kv = head // group  # grouped-query attention: the key/value head this head reads
        values = v_proj(norm_in(hidden))[:, kv * dim:(kv + 1) * dim]
        return attention.to(values.dtype) @ values

    def head_logits(self, hidden: Any, attention: Any, head: int = POINTER_HEAD) -> Any:
        """Vocabulary logits of what one last-layer head alone adds to the residual stream."""
        _, _, o_proj, norm_out, lm_head, dim, _ = self._readout or (None,) * 7
        head = head % self._heads
        out = self.head_output(hidden, attention, head) @ o_proj.weight[:, head * dim:(head + 1) * dim].T
        return lm_head(norm_out(out))

    def head_readout(self, hidden: Any, attention: Any) -> Any:
        """Digit logits of what the pointer head alone adds to the residual stream, ``[queries, 10]``."""
        return self.head_logits(hidden, attention)[:, self.digits]

    def parameters(self) -> list[Any]:
        return list(self.probe.parameters()) + list(self.label_probe.parameters())

    def to(self, device: str) -> PointerAux:
        self.probe.to(device)
        self.label_probe.to(device)
        self.digits = self.digits.to(device)
        return self

    def state_dict(self) -> dict[str, Any]:
        out = {f"pointer_probe.{k}": v.detach().cpu() for k, v in self.probe.state_dict().items()}
        out.update({f"label_probe.{k}": v.detach().cpu() for k, v in self.label_probe.state_dict().items()})
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for prefix, probe in (("pointer_probe.", self.probe), ("label_probe.", self.label_probe)):
            probe.load_state_dict({k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)})

    def losses(self, outputs: Any, batch: dict[str, Any], labels: Any, points: list[tuple[int, int] | None],
               layouts: list[Any] | None = None) -> tuple[Any, dict[str, float]]:
        """The weighted auxiliary loss of one micro-batch and its parts (for the log).

        ``outputs`` must hold ``hidden_states`` and ``attentions``; ``batch`` the ``input_ids`` and
        ``image_grid_thw`` the model saw; ``points`` each sample's first reply point; ``layouts`` each
        sample's labelled widgets (empty: no label supervision for it).
        """
        import torch
        import torch.nn.functional as F

        hidden = outputs.hidden_states[-2]  # the input of the last decoder layer
        attention = outputs.attentions[-1][:, POINTER_HEAD]
        copy_attention = outputs.attentions[-1][:, COPY_HEAD] if self.copy_weight else None
        prev_attention = outputs.attentions[PREV_TOKEN_LAYER][:, PREV_TOKEN_HEAD] if self.prev_token_weight else None
        grids = batch["image_grid_thw"].tolist()
        ids = batch["input_ids"]
        position_terms, pointer_terms, seen_terms, wanted_terms, copy_terms, readout_terms = [], [], [], [], [], []
        copy_readout_terms: list[Any] = []
        prev_terms: list[Any] = []
        grid_at = 0
        for b in range(ids.shape[0]):
            visual = (ids[b] == self.image_token_id).nonzero().flatten()
            if not len(visual):
                continue
            own = []  # this sample's grids, in order; the last one is the current screenshot
            count = 0
            while count < len(visual):
                t, h, w = grids[grid_at]
                grid_at += 1
                own.append((t, h // self.merge_size, w // self.merge_size))
                count += t * own[-1][1] * own[-1][2]
            t, rows, cols = own[-1]
            last = visual[len(visual) - rows * cols:]
            logits = self.probe(hidden[b, last]).view(-1, 4, 10)
            target = cell_digits(rows, cols).to(logits.device)
            position_terms.append(F.cross_entropy(logits.reshape(-1, 10), target.reshape(-1)))
            layout = layouts[b] if layouts else ()
            point = points[b]
            if copy_attention is not None or prev_attention is not None:  # their span: the task line, once
                row = ids[b].tolist()
                task = task_span(row, int(visual[-1]) + 1, self.line_breaks)
            if prev_attention is not None:  # each task token (but the first) attends to the one before it
                at = torch.arange(task[0] + 1, task[1], device=ids.device)
                if len(at):
                    prev_terms.append(-torch.log(prev_attention[b, at, at - 1] + 1e-6).mean())
            is_digit = torch.isin(labels[b, 1:], self.digits)
            queries = is_digit.nonzero().flatten()[:POINT_DIGITS] if point is not None else is_digit[:0].nonzero().flatten()
            if copy_attention is not None:
                pairs = copy_targets(row, labels[b].tolist(), task, skip=set(queries.tolist()))
                if pairs:
                    rows_q = torch.tensor([q for q, _ in pairs], device=ids.device)
                    mask = torch.zeros(len(pairs), ids.shape[1], dtype=torch.bool, device=ids.device)
                    for i, (_, keys) in enumerate(pairs):
                        mask[i, keys] = True
                    mass = (copy_attention[b][rows_q] * mask).sum(-1)
                    copy_terms.append(-torch.log(mass + 1e-6).mean())
                    if self.copy_readout_weight:  # what the copy head alone writes must be the copied token
                        logits = self.head_logits(hidden[b], copy_attention[b][rows_q], COPY_HEAD)
                        copy_readout_terms.append(F.cross_entropy(logits, labels[b, rows_q + 1]))
            here = cell_labels(layout, rows, cols).to(logits.device) if layout else None
            if here is not None:
                seen = self.label_probe(hidden[b, last])
                widget = here > 0  # widget cells and background count alike, however few the widgets
                parts = [F.cross_entropy(seen[mask], here[mask]) for mask in (widget, ~widget) if mask.any()]
                seen_terms.append(torch.stack(parts).mean())
            if point is None or not len(queries):  # queries: the logits at p predict token p + 1
                continue
            under = [w for w in layout if w[0] <= point[0] < w[2] and w[1] <= point[1] < w[3]]
            if self.target == "widget" and under:  # the topmost widget the point lands on
                cells = widget_cells(under[-1][:4], point, rows, cols)
            else:
                cells = near_cells(point, rows, cols)
            keys = last[cells.to(last.device)]
            mass = attention[b][queries][:, keys].sum(-1)
            pointer_terms.append(-torch.log(mass + 1e-6).mean())
            if self.readout_weight:  # the first digit, from what the pointer head alone writes
                first = queries[:1]
                digit = (self.digits == labels[b, first[0] + 1]).nonzero().flatten()
                readout_terms.append(F.cross_entropy(self.head_readout(hidden[b], attention[b][first]), digit))
            if under:
                target = torch.full((len(queries),), label_class(under[-1][4]), device=logits.device)
                wanted_terms.append(F.cross_entropy(self.label_probe(hidden[b, queries]), target))
        position = torch.stack(position_terms).mean()
        zero = position.new_zeros(())
        pointer = torch.stack(pointer_terms).mean() if pointer_terms else zero
        seen = torch.stack(seen_terms).mean() if seen_terms else zero
        wanted = torch.stack(wanted_terms).mean() if wanted_terms else zero
        total = self.weight * (position + pointer + seen + wanted)
        parts = {"aux_position": float(position.detach()), "aux_pointer": float(pointer.detach()),
                 "aux_label_seen": float(seen.detach()), "aux_label_wanted": float(wanted.detach())}
        for name, weight, terms in (("aux_readout", self.readout_weight, readout_terms),
                                    ("aux_copy", self.copy_weight, copy_terms),
                                    ("aux_copy_readout", self.copy_readout_weight, copy_readout_terms),
                                    ("aux_prev_token", self.prev_token_weight, prev_terms)):
            if weight:  # the optional terms: logged only when on
                term = torch.stack(terms).mean() if terms else zero
                total = total + weight * term
                parts[name] = float(term.detach())
        return total, parts

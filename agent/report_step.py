"""One step of the report: the screenshot and 1:1 crops around each action, the prompt, the reply, the figures.

A 4K or phone screenshot shrunk to a thumbnail hides where a click landed, so next to the full (annotated)
screenshot each action's point (a drag's start and end) is shown cropped at one image pixel per CSS pixel.
Crops are ``<img>`` elements with ``object-fit: none`` and an ``object-position``: the browser cuts them
out of the annotated PNG it already loads, so no extra files are written.
"""

from __future__ import annotations

from pathlib import Path

from vlagent.actions.coords import Point
from vlagent.actions.models import Action
from vlagent.agent.describe import describe
from vlagent.agent.report_html import esc, rel
from vlagent.agent.trajectory import ActionRecord, StepRecord

#: The crop around an action's point, in image pixels shown 1:1.
CROP_SIZE = (320, 200)
#: Thumbnail widths (CSS px) for landscape screens and for phones (portrait), as report.py's CSS sets them.
THUMB_WIDTH = 560
PORTRAIT_THUMB_WIDTH = 270


def action_points(action: Action, size: tuple[int, int]) -> list[tuple[str, Point]]:
    """Where an action acts, in screen pixels: a click's point, a drag's start and end, a scroll's point.

    Example:
        >>> from vlagent.actions.models import Scroll
        >>> action_points(Scroll(direction="down"), (100, 80))
        [('scroll', Point(x=50.0, y=40.0, space='screen'))]
        >>> from vlagent.actions.models import Drag
        >>> [name for name, _ in action_points(Drag(start=Point(x=5, y=5, space="screen"),
        ...                                          end=Point(x=9, y=70, space="screen")), (100, 80))]
        ['start', 'end']
    """
    points = [(name, p) for name, p in action.points().items() if p.space == "screen"]
    if action.type == "scroll" and not points:
        points = [("scroll", Point(x=size[0] / 2, y=size[1] / 2, space="screen"))]
    elif len(points) == 1:
        points = [(action.type, points[0][1])]
    return points


def crop_box(p: Point, size: tuple[int, int], crop: tuple[int, int] = CROP_SIZE) -> tuple[int, int, int, int]:
    """``(left, top, width, height)`` of the crop centred on ``p``, kept inside the image.

    Example:
        >>> crop_box(Point(x=3830, y=10, space="screen"), (3840, 2160))
        (3520, 0, 320, 200)
    """
    w, h = min(crop[0], size[0]), min(crop[1], size[1])
    left = int(min(max(p.x - w / 2, 0), size[0] - w))
    top = int(min(max(p.y - h / 2, 0), size[1] - h))
    return left, top, w, h


def _crops(step: StepRecord, src: str, size: tuple[int, int], thumb: int) -> str:
    if size[0] <= thumb * 1.25:  # the thumbnail is near 1:1 already
        return ""
    out = []
    for a in step.actions:
        if a.screen is None:
            continue
        for name, p in action_points(a.screen, size):
            left, top, w, h = crop_box(p, size)
            out.append(
                f'<figure class="crop"><a href="{src}" title="open the full screenshot">'
                f'<img src="{src}" alt="{esc(name)} at ({p.x:g}, {p.y:g})" loading="lazy" '
                f'style="width:{w}px;height:{h}px;object-fit:none;object-position:-{left}px -{top}px"></a>'
                f"<figcaption>{esc(name)} ({p.x:g}, {p.y:g}), 1:1</figcaption></figure>"
            )
    return f'<div class="crops">{"".join(out)}</div>' if out else ""


def _status(a: ActionRecord) -> str:
    if a.executed:
        status = "executed"
    else:
        status = a.skipped or "not executed"
    if a.model.type == "call_user":
        answer = a.answer if a.answer is not None else "(nobody answered)"
        status += f"; the user answered: {answer}"
    return esc(status)


def _actions_table(step: StepRecord) -> str:
    if not step.actions:
        return ""
    rows = "".join(
        f"<tr><td>{esc(describe(a.model))}</td><td>{esc(describe(a.screen) if a.screen else '')}</td>"
        f"<td>{_status(a)}</td></tr>"
        for a in step.actions
    )
    return f"<table><tr><th>as the model wrote it</th><th>screen pixels</th><th>status</th></tr>{rows}</table>"


def _timings(step: StepRecord) -> str:
    t = step.timings
    phases = {"capture": t.capture, "preprocess": t.preprocess, "model": t.model, "parse": t.parse,
              "execute": t.execute, "settle": t.settle, "record": t.record, "total": t.total}
    return (  # milliseconds: the overhead phases take a few ms, which 4-decimal seconds hide
        '<table class="timings"><caption>timings (ms)</caption><tr>'
        + "".join(f"<th>{name}</th>" for name in phases)
        + "</tr><tr>"
        + "".join(f"<td>{seconds * 1000:.2f}</td>" for seconds in phases.values())
        + "</tr></table>"
    )


def _tokens(step: StepRecord) -> str:
    if not any(step.tokens.values()) and not step.prompt:
        return ""
    prompt = step.prompt
    visual_sent = sum(i.tokens for i in prompt.images) + sum(v.tokens for v in prompt.videos) if prompt else 0
    cells = [("prompt", step.tokens.get("prompt", 0)), ("visual", step.tokens.get("visual", 0)),
             ("new", step.tokens.get("new", 0))]
    head = "".join(f"<th>{name}</th>" for name, _ in cells) + "<th>images' tokens at their resized size</th>"
    body = "".join(f"<td>{n}</td>" for _, n in cells) + f"<td>{visual_sent}</td>"
    note = "" if any(step.tokens.values()) else '<p class="na">the backend reported no token counts</p>'
    return f'<table class="tokens"><caption>tokens</caption><tr>{head}</tr><tr>{body}</tr></table>{note}'


def _prompt(step: StepRecord, folder: Path, base: Path, system_prompt: str | None) -> str:
    prompt = step.prompt
    if prompt is None:
        return ""
    parts = []
    for m in prompt.messages:
        pieces = []
        for p in m.parts:
            if p.image is not None:
                i = p.image
                name = esc(i.file or "(not recorded)")
                link = f'<a href="{rel(folder / i.file, base)}">{name}</a>' if i.file else name
                pieces.append(f'<div class="img-part">image {link}: {i.width}x{i.height}, sent as '
                              f"{i.resized_width}x{i.resized_height} ({i.tokens} visual tokens)</div>")
            elif p.video is not None:
                v = p.video
                names = ", ".join(
                    f'<a href="{rel(folder / f, base)}">{esc(f)}</a>' if f else "(not recorded)" for f in v.files
                )
                pieces.append(f'<div class="img-part">video of {v.frames} frames ({names}): {v.width}x{v.height}, '
                              f"sent as {v.resized_width}x{v.resized_height} ({v.tokens} visual tokens)</div>")
            elif p.ref:
                pieces.append(f"<pre>{esc(system_prompt)}</pre>" if system_prompt is not None else
                              f"<p>(the episode's {esc(p.ref)})</p>")
            else:
                pieces.append(f"<pre>{esc(p.text)}</pre>")
        parts.append(f'<div class="msg"><b>{esc(m.role)}</b>{"".join(pieces)}</div>')
    options = ", ".join(f"{k}={v}" for k, v in prompt.options.items())
    n_images = len(prompt.images)
    return (
        f'<details class="prompt"><summary>Prompt sent ({len(prompt.messages)} message(s), {n_images} '
        f'image(s))</summary>{"".join(parts)}<p><b>Decoding:</b> {esc(options)}</p></details>'
    )


def step_html(
    step: StepRecord, folder: Path, base: Path, *, size: tuple[int, int] | None, portrait: bool,
    system_prompt: str | None = None,
) -> str:
    """The HTML of one step; ``size`` is the screenshot's (from the episode's geometry)."""
    image = step.annotated or step.screenshot
    shot = crops = ""
    if image and not (folder / image).exists():
        # Screenshots are encoded after their step's line is written; a run killed meanwhile never wrote it.
        shot = '<p class="missing">screenshot not written (still being encoded, or the run ended first)</p>'
    elif image:
        # The full screenshot opens the image it shows (the annotated one: where the action landed) at
        # full size; the raw screenshot, without the drawing over it, is a secondary link.
        src = rel(folder / image, base)
        # A small screen (a 160x210 MiniWoB++ page) at most doubled, not blown up to the thumbnail width.
        cap = f' style="width:{2 * size[0]}px"' if size and not portrait and 2 * size[0] < THUMB_WIDTH else ""
        shot = (f'<a href="{src}"><img src="{src}" alt="step {step.index} screenshot" loading="lazy" '
                f'class="full"{cap}></a>')
        if step.annotated and step.screenshot:
            shot += f'<br><a class="raw" href="{rel(folder / step.screenshot, base)}">raw screenshot</a>'
        if size:
            crops = _crops(step, src, size, PORTRAIT_THUMB_WIDTH if portrait else THUMB_WIDTH)
    error = ""
    if step.error:
        fed = "fed back to the model" if step.error.fed_back else "not fed back"
        error = f'<div class="error">{esc(step.error.type)}: {esc(step.error.message)} <i>({fed})</i></div>'
    thought = f"<p><b>Thought:</b> {esc(step.thought)}</p>" if step.thought else ""
    status = f"reward {step.reward:g}" + (", terminated" if step.terminated else "") + (
        ", truncated" if step.truncated else ""
    )
    model_ms = step.timings.model * 1000
    new = step.tokens.get("new", 0)
    headline = f"model {model_ms:.0f} ms" + (f", {new} new tokens" if new else "")
    return (
        f'<div class="step" id="step-{esc(folder.name)}-{step.index}"><h3>Step {step.index} <small>{esc(headline)}</small></h3>'
        f'<div class="step-body"><div class="shot">{shot}{crops}</div><div class="detail">'
        f"{_prompt(step, folder, base, system_prompt)}{thought}<b>Raw reply:</b><pre>{esc(step.raw)}</pre>{error}"
        f"{_actions_table(step)}<p>{esc(status)}</p>{_timings(step)}{_tokens(step)}</div></div></div>"
    )

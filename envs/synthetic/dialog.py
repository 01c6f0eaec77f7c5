"""A modal confirm dialog over a dimmed file manager: confirm or cancel, maybe tick "Don't ask again".

The dialog varies by seed (delete, discard changes, replace, sign out, restart to update) and so does the
order of its two buttons, so the answer is never "the right-hand button". Closing it ends the episode:
with the asked-for button and check box state it is a success, otherwise a failure. Enter presses the
highlighted (confirm) button, Esc and the phone's back cancel, as on real systems; the dimmed window
behind takes no clicks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from vlagent.actions.models import Action
from vlagent.envs.synthetic.app import SyntheticApp, match_task
from vlagent.envs.synthetic.screen import RGB, Painter, font
from vlagent.envs.synthetic.widgets import INK, MUTED, PAGE, SURFACE, Widget, button, checkbox, status_bar


@dataclass(frozen=True)
class Variant:
    key: str
    title: str
    message: str
    confirm: str
    cancel: str
    confirm_tasks: tuple[str, ...]
    cancel_tasks: tuple[str, ...]
    danger: bool
    done: str  # what the toast says after confirming


VARIANTS = (
    Variant("delete", "Delete {file}?", "This file will be permanently deleted. You can't undo this.", "Delete",
            "Cancel", ("Delete {file}", "Confirm deleting {file}"), ("Keep {file}: cancel the deletion", "Don't delete {file}"),
            True, "{file} deleted"),
    Variant("discard", "Discard changes?", "Your edits to {file} have not been saved.", "Discard", "Keep editing",
            ("Discard the unsaved changes to {file}",), ("Keep editing {file} without discarding the changes",),
            True, "Changes to {file} discarded"),
    Variant("replace", "Replace {file}?", "A file with this name already exists in Documents.", "Replace",
            "Keep both", ("Replace the existing {file}",), ("Keep both copies of {file}",), False, "{file} replaced"),
    Variant("signout", "Sign out of all devices?", "Open documents such as {file} will be closed.", "Sign out",
            "Stay signed in", ("Sign out of all devices",), ("Stay signed in and keep {file} open",), True, "Signed out"),
    Variant("update", "Restart to update?", "Save your work in {file} first: the app will restart.", "Restart now",
            "Later", ("Restart now to install the update",), ("Postpone the update until later",), False,
            "Restarting..."),
)
FILES = ("report.pdf", "budget-2024.xlsx", "notes.txt", "holiday.jpg", "draft-v2.docx", "slides.pptx")
DONT_ASK = "Don't ask again"
_SUFFIX = " and tick \"Don't ask again\""
_SUFFIX_RE = r"(?P<dont_ask>,? and (?:tick|check|select) ['\"“]?don['’]t ask again['\"”]?)?"


@dataclass(frozen=True)
class DialogGoal:
    variant: str
    choice: str  # "confirm" | "cancel"
    dont_ask: bool
    file: str | None = None


def _patterns() -> list[tuple[str, str, re.Pattern[str]]]:
    out = []
    for v in VARIANTS:
        for choice, templates in (("confirm", v.confirm_tasks), ("cancel", v.cancel_tasks)):
            for t in templates:
                body = re.escape(t).replace(re.escape("{file}"), r"(?P<file>[\w.\-]+)").replace("'", "['’]")
                out.append((v.key, choice, re.compile(body + _SUFFIX_RE, re.I)))
    return out


_PATTERNS = _patterns()


def parse_dialog_task(text: str) -> DialogGoal | None:
    r"""Read a dialog task into the variant, the button and the check box state it asks for.

    Example:
        >>> parse_dialog_task('Delete notes.txt and tick "Don\'t ask again"')
        DialogGoal(variant='delete', choice='confirm', dont_ask=True, file='notes.txt')
    """
    for key, choice, pattern in _PATTERNS:
        m = match_task([pattern], text)
        if m:
            file = m.groupdict().get("file")
            return DialogGoal(key, choice, bool(m["dont_ask"]), file)
    return None


def _dim(c: RGB) -> RGB:
    return tuple(int(v * 0.45) for v in c)  # type: ignore[return-value]


def _wrap(text: str, size_px: int, width: int) -> list[str]:
    f, lines, line = font(size_px), [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and f.getlength(trial) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + [line] if line else lines


class DialogApp(SyntheticApp):
    """A confirm dialog: press the right one of its two buttons.

    Example:
        >>> env = DialogApp(size="desktop")
        >>> obs, info = env.reset(options={"task": "Don't delete report.pdf"})
        >>> info["oracle"].box == env.widget("button:cancel").box
        True
    """

    name = "dialog"
    description = "a modal confirm dialog: confirm or cancel, maybe tick Don't ask again"
    task_examples = ("Delete report.pdf", "Postpone the update until later", 'Replace the existing notes.txt' + _SUFFIX)

    def _parse_task(self, text: str) -> DialogGoal | None:
        return parse_dialog_task(text)

    def _setup(self, rng: np.random.Generator, goal: DialogGoal | None) -> None:
        variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
        file = FILES[int(rng.integers(len(FILES)))]
        choice = ("confirm", "cancel")[int(rng.integers(2))]
        dont_ask = int(rng.integers(3)) == 0
        self.confirm_first = bool(rng.integers(2))
        template_pick = int(rng.integers(2))
        if goal is not None:
            variant = next(v for v in VARIANTS if v.key == goal.variant)
            file, choice, dont_ask = goal.file or file, goal.choice, goal.dont_ask
        templates = variant.confirm_tasks if choice == "confirm" else variant.cancel_tasks
        self.task = templates[template_pick % len(templates)].format(file=file) + (_SUFFIX if dont_ask else "")
        self.variant, self.file = variant, file
        self.goal = DialogGoal(variant.key, choice, dont_ask, file)
        self.checked = False
        self.closed_with: str | None = None

    # ---- drawing -------------------------------------------------------------------------------------
    def _draw(self, p: Painter) -> list[Widget]:
        open_ = self.closed_with is None
        tone = _dim if open_ else (lambda c: c)
        w, h = self.screen.width, self.screen.height
        p.rect((0, 0, w, h), fill=tone(PAGE))
        top = status_bar(p, fill=tone(SURFACE), ink=tone(INK)) if self.family == "mobile" else 0
        bar = p.u(56)
        p.rect((0, top, w, top + bar), fill=tone(SURFACE))
        p.text((p.u(20), top + bar // 2), "Files  ›  Documents", size=20, fill=tone(INK), bold=True)
        for i, name in enumerate(sorted({*FILES, self.file})):
            y = top + bar + p.u(16 + 52 * i)
            p.rect((p.u(16), y, w - p.u(16), y + p.u(44)), fill=tone(SURFACE), radius=6)
            p.text((p.u(32), y + p.u(22)), name, size=15, fill=tone(INK))
        if not open_:
            v = self.variant
            toast = v.done.format(file=self.file) if self.closed_with == "confirm" else "Nothing changed"
            tw = p.text_width(toast, size=15) + p.u(48)
            ty = h - p.u(96)
            p.rect(((w - tw) // 2, ty, (w + tw) // 2, ty + p.u(44)), fill=INK, radius=8)
            p.text((w // 2, ty + p.u(22)), toast, size=15, fill=SURFACE, anchor="mm")
            return []
        return self._draw_dialog(p)

    def _draw_dialog(self, p: Painter) -> list[Widget]:
        v = self.variant
        w, h = self.screen.width, self.screen.height
        cw = min(p.u(460), w - p.u(48))
        pad = p.u(24)
        lines = _wrap(v.message.format(file=self.file), p.u(15), cw - 2 * pad)
        ch = p.u(24 + 36 + 12) + len(lines) * p.u(22) + p.u(16 + 32 + 24 + 44 + 24)
        x1, y1 = (w - cw) // 2, (h - ch) // 2
        p.rect((x1, y1, x1 + cw, y1 + ch), fill=SURFACE, radius=12)
        y = y1 + pad + p.u(18)
        p.text((x1 + pad, y), v.title.format(file=self.file), size=20, fill=INK, bold=True, max_width=cw - 2 * pad)
        y += p.u(36)
        for line in lines:
            p.text((x1 + pad, y), line, size=15, fill=MUTED)
            y += p.u(22)
        y += p.u(8)
        widgets = [checkbox(p, (x1 + pad, y, x1 + pad + p.u(170), y + p.u(32)), name="checkbox:dont_ask",
                            label=DONT_ASK, checked=self.checked)]
        by = y1 + ch - pad - p.u(44)
        gap = p.u(12)
        bw = min(p.u(150), (cw - 2 * pad - gap) // 2)
        right = x1 + cw - pad
        boxes = [(right - 2 * bw - gap, by, right - bw - gap, by + p.u(44)), (right - bw, by, right, by + p.u(44))]
        order = ("confirm", "cancel") if self.confirm_first else ("cancel", "confirm")
        for role, box in zip(order, boxes, strict=True):
            label = v.confirm if role == "confirm" else v.cancel
            kind = ("danger" if v.danger else "primary") if role == "confirm" else "secondary"
            widgets.append(button(p, box, label, name=f"button:{role}", kind=kind))
        return widgets

    # ---- input ---------------------------------------------------------------------------------------
    def _on_click(self, widget: Widget | None) -> None:
        if widget is None:
            return
        if widget.name == "checkbox:dont_ask":
            self.checked = not self.checked
        elif widget.name.startswith("button:"):
            self.closed_with = widget.name.partition(":")[2]

    def _on_key(self, name: str) -> None:
        if self.closed_with is None and name in ("enter", "esc"):
            self.closed_with = "confirm" if name == "enter" else "cancel"

    def _on_navigate(self, to: str) -> None:
        if self.closed_with is None and to == "back":
            self.closed_with = "cancel"

    # ---- judging -------------------------------------------------------------------------------------
    def _success(self) -> bool:
        return self.closed_with == self.goal.choice and self.checked == self.goal.dont_ask

    def _failure(self) -> str | None:
        if self.closed_with is None:
            return None
        if self.closed_with != self.goal.choice:
            return f"pressed {self.closed_with}, the task asked to {self.goal.choice}"
        return f"{DONT_ASK!r} was {'ticked' if self.checked else 'not ticked'}"

    def _oracle(self) -> Action | None:
        if self.checked != self.goal.dont_ask:
            return self.widget("checkbox:dont_ask").click()
        return self.widget(f"button:{self.goal.choice}").click()

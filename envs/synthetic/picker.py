"""A list to search and pick from: a country picker with a search box, a scrolling list and Select/Cancel.

Typing into the search box filters the list (case-insensitive substring); clicking a row selects it and
Select confirms. Confirming the asked-for country is a success; confirming another, or Cancel, ends the
episode as a failure. Enter picks the only match while searching, or confirms a selection. A row takes
clicks (and is reported as a widget) only while at least half of it is in view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from vlagent.actions.models import Action, TypeText
from vlagent.envs.synthetic.app import SyntheticApp, match_task
from vlagent.envs.synthetic.screen import Painter
from vlagent.envs.synthetic.widgets import (
    INK,
    MUTED,
    PAGE,
    PRIMARY,
    PRIMARY_SOFT,
    SURFACE,
    FieldState,
    ListView,
    Widget,
    button,
    status_bar,
    text_field,
)

COUNTRIES = (
    "Argentina", "Australia", "Austria", "Belgium", "Brazil", "Bulgaria", "Canada", "Chile", "China", "Colombia",
    "Croatia", "Czechia", "Denmark", "Egypt", "Estonia", "Finland", "France", "Germany", "Ghana", "Greece",
    "Hungary", "Iceland", "India", "Indonesia", "Ireland", "Israel", "Italy", "Japan", "Kenya", "Latvia",
    "Lithuania", "Mexico", "Morocco", "Netherlands", "New Zealand", "Niger", "Nigeria", "Norway", "Peru",
    "Philippines", "Poland", "Portugal", "Romania", "Senegal", "Singapore", "Slovakia", "South Africa",
    "South Korea", "Spain", "Sweden", "Switzerland", "Thailand", "Tunisia", "Turkey", "Ukraine",
    "United Kingdom", "United States", "Uruguay", "Vietnam", "Zambia",
)
_BY_LOWER = {c.lower(): c for c in COUNTRIES}
SHOWN = 40
_TEMPLATES = ("Select {item} from the list and confirm", "Choose {item} as your country")
_PATTERNS = (
    re.compile(r"(?:select|choose|pick) ['\"“]?(?P<item>.+?)['\"”]? as (?:your|the) country", re.I),
    re.compile(r"(?:select|choose|pick|find) ['\"“]?(?P<item>.+?)['\"”]?(?: (?:from|in) the (?:country )?list)?"
               r"(?:,? and (?:confirm|press select|click select))?", re.I),
)
ROW_DP = 48


@dataclass(frozen=True)
class PickerGoal:
    item: str


class PickerApp(SyntheticApp):
    """A searchable country list: select the named country and confirm.

    Example:
        >>> env = PickerApp(size="desktop")
        >>> obs, info = env.reset(seed=0, options={"task": "Choose Portugal as your country"})
        >>> env.goal.item, "Portugal" in env.items
        ('Portugal', True)
    """

    name = "picker"
    description = "a searchable list: find an item, select it, confirm"
    task_examples = ("Select Portugal from the list and confirm", "Choose Kenya as your country")

    def _parse_task(self, text: str) -> PickerGoal | None:
        m = match_task(_PATTERNS, text)
        item = _BY_LOWER.get(m["item"].lower()) if m else None
        return PickerGoal(item) if item else None

    def _setup(self, rng: np.random.Generator, goal: PickerGoal | None) -> None:
        shown = [COUNTRIES[i] for i in sorted(rng.choice(len(COUNTRIES), SHOWN, replace=False))]
        pick = int(rng.integers(SHOWN))
        template = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
        if goal is not None and goal.item not in shown:
            shown[pick] = goal.item
            shown.sort()
        self.goal = goal or PickerGoal(shown[pick])
        self.items = shown
        self.task = template.format(item=self.goal.item)
        self.search = FieldState()
        self.focus = False
        self.selected: str | None = None
        self.closed_with: str | None = None
        self.list = ListView()

    @property
    def matches(self) -> list[str]:
        q = self.search.text.strip().lower()
        return [c for c in self.items if q in c.lower()]

    # ---- drawing -------------------------------------------------------------------------------------
    def _draw(self, p: Painter) -> list[Widget]:
        w, h = self.screen.width, self.screen.height
        mobile = self.family == "mobile"
        if mobile:
            x1, y1, x2, y2 = 0, p.u(28), w, h
            p.rect((x1, y1, x2, y2), fill=SURFACE)
        else:
            pw = min(p.u(560), w - p.u(32))
            x1, y1, x2, y2 = (w - pw) // 2, p.u(40), (w + pw) // 2, h - p.u(40)
            p.rect((x1, y1, x2, y2), fill=SURFACE, radius=10)
        if mobile:
            status_bar(p, fill=SURFACE)
        pad = p.u(20)
        if self.closed_with is not None:
            done = f"Country set to {self.selected}" if self.closed_with == "select" else "No country chosen"
            p.text((x1 + pad, y1 + p.u(40)), done, size=22, fill=INK, bold=True)
            return []
        vp = (x1 + pad, y1 + p.u(128), x2 - pad, y2 - p.u(88))
        row = p.u(ROW_DP)
        widgets = self._draw_list(p, vp, row)
        # The rows are drawn unclipped; paint the panel over their overflow, then what sits there.
        p.rect((vp[0], vp[1] - row, vp[2], vp[1]), fill=SURFACE)
        p.rect((vp[0], vp[3], vp[2], vp[3] + row), fill=SURFACE)
        p.rect((vp[0] - 1, vp[1] - 1, vp[2] + 1, vp[3] + 1), outline=PAGE, width=1)
        p.text((x1 + pad, y1 + p.u(36)), "Choose your country", size=22, fill=INK, bold=True)
        widgets = text_field(p, (x1 + pad, y1 + p.u(64), x2 - pad, y1 + p.u(112)), self.search,
                             name="field:search", label="Search", placeholder="Search countries",
                             focused=self.focus) + widgets
        by = y2 - p.u(68)
        bw = p.u(120)
        widgets.append(button(p, (x2 - pad - 2 * bw - p.u(12), by, x2 - pad - bw - p.u(12), by + p.u(44)), "Cancel",
                              name="button:cancel", kind="secondary"))
        widgets.append(button(p, (x2 - pad - bw, by, x2 - pad, by + p.u(44)), "Select", name="button:select",
                              enabled=self.selected is not None))
        return widgets

    def _draw_list(self, p: Painter, vp: tuple[int, int, int, int], row: int) -> list[Widget]:
        matches = self.matches
        self.list.viewport, self.list.content_h = vp, row * len(matches)
        self.list.clamp()
        vw, vh = vp[2] - vp[0], vp[3] - vp[1]
        layer = p.view(vp[:2])
        if not matches:
            layer.text((vw // 2, p.u(40)), f"No countries match “{self.search.text}”", size=15, fill=MUTED,
                       anchor="mm", max_width=vw)
        widgets = []
        for i in range(self.list.offset // row, min(len(matches), (self.list.offset + vh) // row + 1)):
            item = matches[i]
            y = i * row - self.list.offset
            chosen = item == self.selected
            if chosen:
                layer.rect((0, y, vw, y + row), fill=PRIMARY_SOFT)
            layer.line([(p.u(12), y + row - 1), (vw - p.u(12), y + row - 1)], fill=PAGE)
            layer.text((p.u(16), y + row // 2), item, size=16, fill=PRIMARY if chosen else INK, bold=chosen)
            if chosen:
                cx, cy = vw - p.u(28), y + row // 2
                layer.line([(cx - p.u(8), cy), (cx - p.u(2), cy + p.u(6)), (cx + p.u(9), cy - p.u(7))],
                           fill=PRIMARY, width=2.5)
            top, bottom = max(y, 0), min(y + row, vh)
            if 2 * (bottom - top) >= row:
                widgets.append(Widget.at(f"item:{item}", "list_item", item,
                                         (vp[0], vp[1] + top, vp[2], vp[1] + bottom), value=chosen))
        self.list.draw_scroll_bar(layer)  # so a screenshot shows there is more
        return widgets

    # ---- input ---------------------------------------------------------------------------------------
    def _focused_field(self) -> FieldState | None:
        return self.search if self.focus else None

    def _on_type(self, text: str) -> None:
        super()._on_type(text)
        self.list.offset = 0

    def _on_click(self, widget: Widget | None) -> None:
        name = widget.name if widget else ""
        self.focus = name in ("field:search", "clear:search")
        self.search.selected = False
        if name == "clear:search":
            self.search.clear()
            self.list.offset = 0
        elif name.startswith("item:"):
            self.selected = widget.label
        elif name == "button:select":
            self.closed_with = "select"
        elif name == "button:cancel":
            self.closed_with = "cancel"

    def _on_key(self, name: str) -> None:
        if name == "enter":
            matches = self.matches
            if self.focus and len(matches) == 1 and self.selected != matches[0]:
                self.selected = matches[0]
            elif self.selected is not None:
                self.closed_with = "select"
        elif name == "esc":
            self.closed_with = "cancel"
        else:
            before = self.search.text
            super()._on_key(name)
            if self.search.text != before:
                self.list.offset = 0

    def _scrollable(self) -> ListView:
        return self.list

    def _on_navigate(self, to: str) -> None:
        if to == "back":
            self.closed_with = "cancel"

    # ---- judging -------------------------------------------------------------------------------------
    def _success(self) -> bool:
        return self.closed_with == "select" and self.selected == self.goal.item

    def _failure(self) -> str | None:
        if self.closed_with == "cancel":
            return "cancelled the picker"
        if self.closed_with == "select":
            return f"confirmed {self.selected}, the task asked for {self.goal.item}"
        return None

    def _oracle(self) -> Action | None:
        target = self.goal.item
        if self.selected == target:
            return self.widget("button:select").click()
        matches = self.matches
        row = self.list.content_h // max(1, len(matches))
        if target in matches:
            i = matches.index(target)
            if self.list.shows(i * row, (i + 1) * row):
                return self.widget(f"item:{target}").click()
            if self.search.text:
                return self.list.reveal(i * row, (i + 1) * row)
        replacing = self.focus and self.search.selected
        if self.search.text and not replacing:
            return self.widget("clear:search").click()
        if not self.focus:
            return self.widget("field:search").click()
        return TypeText(text=target)

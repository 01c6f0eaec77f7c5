"""A settings list with on/off switches, longer than the screen, so some rows need a scroll first.

The task asks to turn one or two settings on or off; success is every switch in its asked-for state with
all the others as they were (flipping a wrong one fails until it is flipped back). Only the switch takes
the click, as in a desktop control panel; the rows scroll with the wheel or a swipe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from vlagent.actions.models import Action
from vlagent.envs.synthetic.app import SyntheticApp
from vlagent.envs.synthetic.screen import Painter
from vlagent.envs.synthetic.widgets import (
    BORDER,
    INK,
    MUTED,
    PAGE,
    PRIMARY_SOFT,
    SURFACE,
    ListView,
    Widget,
    status_bar,
    toggle,
)

#: (key, label, description); the label is what tasks and the screen call the setting.
SETTINGS = (
    ("wifi", "Wi-Fi", "Connect to wireless networks"),
    ("bluetooth", "Bluetooth", "Pair headphones and other devices"),
    ("airplane", "Airplane mode", "Turn off all radios"),
    ("mobile_data", "Mobile data", "Use the cellular network for data"),
    ("hotspot", "Hotspot", "Share this connection"),
    ("nfc", "NFC", "Tap to pay and share"),
    ("location", "Location", "Let apps use your location"),
    ("dark_mode", "Dark mode", "Use a dark theme"),
    ("night_light", "Night light", "Tint the screen amber at night"),
    ("auto_rotate", "Auto-rotate", "Rotate the screen with the device"),
    ("notifications", "Notifications", "Show app notifications"),
    ("dnd", "Do not disturb", "Silence calls and alerts"),
    ("battery_saver", "Battery saver", "Limit background activity"),
    ("auto_update", "Auto-update apps", "Install updates automatically"),
    ("sync", "Background sync", "Keep accounts in sync"),
    ("key_sounds", "Keyboard sounds", "Play a sound on each key"),
    ("vibrate", "Vibrate on tap", "Haptic feedback"),
    ("dev_options", "Developer options", "Advanced settings for developers"),
)
_BY_LABEL = {label.lower(): key for key, label, _ in SETTINGS} | {key: key for key, _, _ in SETTINGS}
LABELS = {key: label for key, label, _ in SETTINGS}
DESCRIPTIONS = {key: text for key, _, text in SETTINGS}
_CLAUSES = (
    re.compile(r"(?:turn|switch) (?P<state>on|off) (?:the )?(?P<name>.+?)(?: setting)?", re.I),
    re.compile(r"(?:turn|switch) (?:the )?(?P<name>.+?)(?: setting)? (?P<state>on|off)", re.I),
    re.compile(r"(?P<state>enable|disable) (?:the )?(?P<name>.+?)(?: setting)?", re.I),
)
_SPLIT = re.compile(r"\s*(?:,\s*and\s+|,\s*|\s+and\s+|;\s*)", re.I)
_TEMPLATES = ("turn {state} {label}", "switch {label} {state}", "{verb} {label}")
ROW_DP = 64


@dataclass(frozen=True)
class SettingsGoal:
    changes: tuple[tuple[str, bool], ...]


def parse_settings_task(text: str) -> SettingsGoal | None:
    """Read "Turn on Bluetooth and disable Location" into setting keys and wanted states.

    Example:
        >>> parse_settings_task("Turn on Bluetooth and disable Location.").changes
        (('bluetooth', True), ('location', False))
    """
    norm = " ".join(text.split()).rstrip(".").strip()
    changes: list[tuple[str, bool]] = []
    for clause in _SPLIT.split(norm):
        for pattern in _CLAUSES:
            m = pattern.fullmatch(clause.strip())
            key = _BY_LABEL.get(m["name"].lower()) if m else None
            if key:
                changes.append((key, m["state"].lower() in ("on", "enable")))
                break
        else:
            return None
    if not changes or len({k for k, _ in changes}) != len(changes):
        return None
    return SettingsGoal(tuple(changes))


class SettingsApp(SyntheticApp):
    """Switches to flip in a scrolling settings list.

    Example:
        >>> env = SettingsApp(size="phone")
        >>> obs, info = env.reset(options={"task": "Turn on Dark mode"})
        >>> env.expected["dark_mode"], info["success"]
        (True, False)
    """

    name = "settings"
    description = "a scrolling settings list: turn switches on or off"
    task_examples = ("Turn on Bluetooth", "Disable Location and turn on Dark mode")

    def _parse_task(self, text: str) -> SettingsGoal | None:
        return parse_settings_task(text)

    def _setup(self, rng: np.random.Generator, goal: SettingsGoal | None) -> None:
        self.order = [SETTINGS[i][0] for i in rng.permutation(len(SETTINGS))]
        self.state = {key: bool(v) for key, v in zip(self.order, rng.integers(0, 2, len(SETTINGS)), strict=True)}
        n = 1 + int(rng.integers(2))
        picks = [self.order[i] for i in rng.choice(len(SETTINGS), n, replace=False)]
        templates = [int(rng.integers(len(_TEMPLATES))) for _ in picks]
        drawn = SettingsGoal(tuple((key, not self.state[key]) for key in picks))
        self.goal = goal or drawn
        for key, want in self.goal.changes:
            self.state[key] = not want  # a given task must start undone
        self.expected = dict(self.state) | dict(self.goal.changes)
        clauses = [
            _TEMPLATES[t].format(state="on" if want else "off", verb="enable" if want else "disable", label=LABELS[key])
            for t, (key, want) in zip(templates, drawn.changes, strict=True)
        ]
        text = " and ".join(clauses)
        self.task = text[0].upper() + text[1:]
        self.list = ListView()

    # ---- drawing -------------------------------------------------------------------------------------
    def _draw(self, p: Painter) -> list[Widget]:
        w, h = self.screen.width, self.screen.height
        mobile = self.family == "mobile"
        top = p.u(28) if mobile else 0  # the status bar's height
        bar = p.u(56 if mobile else 64)
        if mobile:
            vp = (0, top + bar, w, h)
        else:
            pw = min(p.u(720), w - p.u(32))
            x1 = (w - pw) // 2
            vp = (x1, top + bar + p.u(16), x1 + pw, h - p.u(16))
        row = p.u(ROW_DP)
        self.list.viewport, self.list.content_h = vp, row * len(self.order)
        self.list.clamp()
        widgets = self._draw_rows(p, vp, row)
        # The rows are drawn unclipped; paint what surrounds the viewport over their overflow.
        p.rect((vp[0], vp[1] - row, vp[2], vp[1]), fill=PAGE)
        p.rect((vp[0], vp[3], vp[2], vp[3] + row), fill=PAGE)
        if mobile:
            status_bar(p, fill=SURFACE)
        p.rect((0, top, w, top + bar), fill=SURFACE)
        p.line([(0, top + bar - 1), (w, top + bar - 1)], fill=BORDER)
        p.text((p.u(20), top + bar // 2), "Settings", size=22, fill=INK, bold=True)
        return widgets

    def _draw_rows(self, p: Painter, vp: tuple[int, int, int, int], row: int) -> list[Widget]:
        vw, vh = vp[2] - vp[0], vp[3] - vp[1]
        p.rect(vp, fill=SURFACE)
        layer = p.view(vp[:2])
        widgets: list[Widget] = []
        for i in range(self.list.offset // row, min(len(self.order), (self.list.offset + vh) // row + 1)):
            key = self.order[i]
            y = i * row - self.list.offset
            cy = y + row // 2
            layer.ellipse((p.u(20), cy - p.u(18), p.u(56), cy + p.u(18)), fill=PRIMARY_SOFT)
            layer.text((p.u(38), cy), LABELS[key][0], size=16, fill=INK, bold=True, anchor="mm")
            layer.text((p.u(72), cy - p.u(10)), LABELS[key], size=16, fill=INK)
            layer.text((p.u(72), cy + p.u(12)), DESCRIPTIONS[key], size=13, fill=MUTED, max_width=vw - p.u(72 + 90))
            layer.line([(p.u(72), y + row - 1), (vw, y + row - 1)], fill=PAGE)
            tb = (vw - p.u(20 + 48), cy - p.u(13), vw - p.u(20), cy + p.u(13))
            toggle(layer, tb, name=f"toggle:{key}", label=LABELS[key], on=self.state[key])
            sx1, sy1, sx2, sy2 = tb[0] + vp[0], max(tb[1], 0) + vp[1], tb[2] + vp[0], min(tb[3], vh) + vp[1]
            if 2 * (sy2 - sy1) >= tb[3] - tb[1]:  # a switch mostly out of view takes no clicks
                widgets.append(Widget.at(f"toggle:{key}", "toggle", LABELS[key], (sx1, sy1, sx2, sy2),
                                         value=self.state[key]))
        self.list.draw_scroll_bar(layer)  # so a screenshot shows there is more
        return widgets

    # ---- input ---------------------------------------------------------------------------------------
    def _on_click(self, widget: Widget | None) -> None:
        if widget is not None and widget.role == "toggle":
            key = widget.name.partition(":")[2]
            self.state[key] = not self.state[key]

    def _scrollable(self) -> ListView:
        return self.list

    # ---- judging -------------------------------------------------------------------------------------
    def _success(self) -> bool:
        return self.state == self.expected

    def _oracle(self) -> Action | None:
        wrong = [key for key in self.order if self.state[key] != self.expected[key]]
        if not wrong:
            return None
        i = self.order.index(wrong[0])
        row = self.list.content_h // len(self.order)
        scroll = self.list.reveal(i * row, (i + 1) * row)
        return scroll or self.widget(f"toggle:{wrong[0]}").click()

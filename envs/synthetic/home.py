"""A phone home screen: a grid of app icons and a dock; tapping an icon opens that app.

Episodes start on the home screen or inside another app (then the agent must leave it first: the system
back/home on a phone, the on-screen back arrow on a desktop-sized screen). ``open_app`` launches by name,
as Android's launcher intents do. Success is the asked-for app in front.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import numpy as np
from PIL import Image, ImageOps

from vlagent.actions.models import Action, Navigate, OpenApp
from vlagent.envs.base import Handler
from vlagent.envs.errors import AppNotFound
from vlagent.envs.synthetic.app import SyntheticApp, match_task
from vlagent.envs.synthetic.screen import RGB, AppConfigError, Painter
from vlagent.envs.synthetic.widgets import INK, MUTED, SURFACE, Widget, status_bar

#: (name, icon colour): every app the synthetic phone has installed.
APPS = (
    ("Camera", (66, 66, 66)), ("Photos", (234, 67, 53)), ("Maps", (52, 168, 83)), ("Messages", (26, 115, 232)),
    ("Phone", (15, 157, 88)), ("Clock", (95, 99, 104)), ("Calendar", (66, 133, 244)), ("Weather", (251, 188, 4)),
    ("Music", (233, 30, 99)), ("Settings", (96, 125, 139)), ("Mail", (217, 48, 37)), ("Notes", (249, 171, 0)),
    ("Calculator", (62, 39, 35)), ("Files", (0, 137, 123)), ("Contacts", (121, 85, 72)), ("Browser", (3, 155, 229)),
    ("Store", (0, 150, 136)), ("Podcasts", (142, 36, 170)), ("Wallet", (38, 50, 56)), ("Health", (244, 81, 30)),
    ("News", (57, 73, 171)), ("Translate", (30, 136, 229)), ("Recorder", (198, 40, 40)), ("Fitness", (67, 160, 71)),
)
COLOURS = dict(APPS)
NAMES = tuple(name for name, _ in APPS)
_BY_LOWER = {name.lower(): name for name in NAMES}
GRID = 20  # icons on the grid; the rest sit in the dock
WALLPAPERS = (((20, 30, 70), (90, 40, 110)), ((10, 60, 60), (30, 30, 40)), ((60, 20, 30), (20, 20, 60)))
_TEMPLATES = ("Open the {app} app", "Launch {app}", "Go to {app}")
_PATTERNS = (re.compile(r"(?:open|launch|start|go to) (?:the )?(?P<app>.+?)(?: app)?", re.I),)


@dataclass(frozen=True)
class HomeGoal:
    app: str


@functools.lru_cache(maxsize=8)
def _wallpaper(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    return ImageOps.colorize(Image.linear_gradient("L").resize(size), top, bottom)


class HomeScreenApp(SyntheticApp):
    """A launcher: open the app the task names.

    Example:
        >>> env = HomeScreenApp(size="phone")
        >>> obs, info = env.reset(seed=3, options={"task": "Open the Weather app"})
        >>> info["oracle"].type in ("click", "navigate")
        True
    """

    name = "home"
    description = "a phone home screen with app icons: open the named app"
    task_examples = ("Open the Camera app", "Launch Maps")
    extra_actions = frozenset({"open_app"})

    def _parse_task(self, text: str) -> HomeGoal | None:
        m = match_task(_PATTERNS, text)
        app = _BY_LOWER.get(m["app"].lower()) if m else None
        return HomeGoal(app) if app else None

    def _setup(self, rng: np.random.Generator, goal: HomeGoal | None) -> None:
        self.layout = [NAMES[i] for i in rng.permutation(len(NAMES))]
        self.wallpaper = WALLPAPERS[int(rng.integers(len(WALLPAPERS)))]
        drawn = HomeGoal(NAMES[int(rng.integers(len(NAMES)))])
        self.goal = goal or drawn
        self.task = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))].format(app=self.goal.app)
        others = [n for n in NAMES if n != self.goal.app]
        start_in = others[int(rng.integers(len(others)))]
        self.current: str | None = start_in if int(rng.integers(3)) == 0 else None

    # ---- drawing -------------------------------------------------------------------------------------
    def _draw(self, p: Painter) -> list[Widget]:
        if self.current is not None:
            return self._draw_app(p, self.current)
        w, h = self.screen.width, self.screen.height
        p.paste(_wallpaper(self.screen.size, *self.wallpaper), (0, 0))
        mobile = self.family == "mobile"
        top = status_bar(p, fill=self.wallpaper[0], ink=SURFACE) if mobile else 0
        clock = self.screen.dp_size[1] >= 700  # small screens give the clock's room to the icons
        if clock:
            p.text((w // 2, top + p.u(56)), "12:30", size=48, fill=SURFACE, anchor="mm")
            p.text((w // 2, top + p.u(100)), "Monday, 3 June", size=16, fill=SURFACE, anchor="mm")
        dock_h = p.u(96)
        dock_y = h - dock_h - p.u(16)
        grid, dock = self.layout[:GRID], self.layout[GRID:]
        cols = 4 if mobile else (10 if w >= p.u(1320) else 5)
        rows = -(-GRID // cols)
        y0 = top + p.u(150 if clock else 16)
        cell_w = min(w // cols if mobile else p.u(128), (w - p.u(16)) // cols)
        cell_h = min(p.u(104 if mobile else 132), (dock_y - y0 - p.u(8)) // rows)
        size = min(p.u(56), cell_h - p.u(26), cell_w - p.u(12))
        if size < p.u(24):
            raise AppConfigError(f"a {w}x{h} screen is too small for the home screen's {len(NAMES)} icons")
        x0 = (w - cols * cell_w) // 2
        widgets = []
        for i, app in enumerate(grid):
            r, c = divmod(i, cols)
            widgets.append(self._icon(p, app, x0 + c * cell_w + cell_w // 2, y0 + r * cell_h, size, cell_w - p.u(4)))
        dock_w = min(w - p.u(16), len(dock) * cell_w + p.u(16))
        p.rect(((w - dock_w) // 2, dock_y, (w + dock_w) // 2, dock_y + dock_h), fill=(60, 64, 80), radius=24)
        dx0 = (w - len(dock) * cell_w) // 2
        for i, app in enumerate(dock):
            widgets.append(self._icon(p, app, dx0 + i * cell_w + cell_w // 2, dock_y + p.u(10), size, cell_w - p.u(4)))
        return widgets

    def _icon(self, p: Painter, app: str, cx: int, y: int, s: int, label_w: int) -> Widget:
        """An app icon ``s`` pixels square with its name under it; the icon square takes the tap."""
        box = (cx - s // 2, y, cx - s // 2 + s, y + s)
        p.rect(box, fill=COLOURS[app], radius=14 * s / p.u(56))
        p.text((cx, y + s // 2), app[0], size=26 * s / p.u(56), fill=SURFACE, bold=True, anchor="mm")
        p.text((cx, y + s + p.u(14)), app, size=13, fill=SURFACE, anchor="mm", max_width=label_w)
        return Widget.at(f"icon:{app.lower()}", "icon", app, box)

    def _draw_app(self, p: Painter, app: str) -> list[Widget]:
        w, h = self.screen.width, self.screen.height
        colour = COLOURS[app]
        top = status_bar(p, fill=colour, ink=SURFACE) if self.family == "mobile" else 0
        bar = p.u(64)
        p.rect((0, top, w, top + bar), fill=colour)
        back = (p.u(8), top + p.u(8), p.u(56), top + p.u(56))
        p.rect(back, fill=tuple(min(255, v + 40) for v in colour), radius=24)
        cy, cx = (back[1] + back[3]) // 2, (back[0] + back[2]) // 2
        p.line([(cx + p.u(10), cy), (cx - p.u(10), cy)], fill=SURFACE, width=2.5)
        p.line([(cx - p.u(2), cy - p.u(8)), (cx - p.u(10), cy), (cx - p.u(2), cy + p.u(8))], fill=SURFACE, width=2.5)
        p.text((p.u(72), top + bar // 2), app, size=22, fill=SURFACE, bold=True)
        p.rect((w // 2 - p.u(48), h // 3 - p.u(48), w // 2 + p.u(48), h // 3 + p.u(48)), fill=colour, radius=24)
        p.text((w // 2, h // 3), app[0], size=44, fill=SURFACE, bold=True, anchor="mm")
        p.text((w // 2, h // 3 + p.u(90)), app, size=28, fill=INK, bold=True, anchor="mm")
        p.text((w // 2, h // 3 + p.u(130)), f"Welcome to {app}.", size=16, fill=MUTED, anchor="mm")
        return [Widget.at("button:back", "button", "Back", back)]

    # ---- input ---------------------------------------------------------------------------------------
    def _on_click(self, widget: Widget | None) -> None:
        if widget is None:
            return
        if widget.role == "icon":
            self.current = widget.label
        elif widget.name == "button:back":
            self.current = None

    def _on_navigate(self, to: str) -> None:
        if to in ("back", "home"):
            self.current = None

    def _open_app(self, action: OpenApp) -> None:
        key = action.name.strip().lower().removeprefix("the ").removesuffix(" app").strip()
        if key not in _BY_LOWER:
            raise AppNotFound(action.name, detail="no such app on this home screen; apps: " + ", ".join(NAMES))
        self.current = _BY_LOWER[key]

    action_handlers: ClassVar[Mapping[str, Handler]] = MappingProxyType(
        {**SyntheticApp.action_handlers, "open_app": _open_app}
    )

    # ---- judging -------------------------------------------------------------------------------------
    def _success(self) -> bool:
        return self.current == self.goal.app

    def _oracle(self) -> Action | None:
        if self.current is not None:
            return Navigate(to="home") if self.family == "mobile" else self.widget("button:back").click()
        return self.widget(f"icon:{self.goal.app.lower()}").click()

"""Built-in synthetic apps: GUI screens drawn with Pillow, with ground truth and a success check.

They need nothing outside Python, so demos, tests and benchmarks run anywhere. Each app is a
:class:`~vlagent.envs.base.VlagentEnv` at any screen size (``size="desktop"`` 1920x1080, ``"4k"`` 3840x2160
with HiDPI scale 2, ``"phone"`` 1080x2400, or ``(w, h)``), picks a task by seed (or takes
``options={"task": ...}``), and reports ``info["widgets"]`` (ground-truth boxes), ``info["success"]`` and
``info["oracle"]`` (the next right action in screen pixels, for scripted policies).

=========  ===============================================================
spec       app
=========  ===============================================================
login      a sign-in form: type a username and password, submit
settings   a scrolling settings list: turn switches on or off
dialog     a modal confirm dialog: confirm or cancel, maybe tick a box
home       a phone home screen with app icons: open the named app
picker     a searchable list: find an item, select it, confirm
=========  ===============================================================
"""

from __future__ import annotations

from typing import Any

from vlagent.actions.errors import EnvError
from vlagent.envs.errors import check_env_kwargs
from vlagent.envs.synthetic.app import SyntheticApp, UnknownTaskError
from vlagent.envs.synthetic.dialog import DialogApp
from vlagent.envs.synthetic.home import HomeScreenApp
from vlagent.envs.synthetic.login import LoginApp
from vlagent.envs.synthetic.picker import PickerApp
from vlagent.envs.synthetic.screen import AppConfigError, ScreenSpec, font_file
from vlagent.envs.synthetic.settings import SettingsApp
from vlagent.envs.synthetic.widgets import Widget

#: Every synthetic app by its spec name (``synthetic:NAME``).
APPS: dict[str, type[SyntheticApp]] = {
    cls.name: cls for cls in (LoginApp, SettingsApp, DialogApp, HomeScreenApp, PickerApp)
}
NEEDS = "nothing beyond vlagent (Pillow draws the screens; DejaVu fonts are used when installed)"


class UnknownAppError(EnvError):
    """``synthetic:NAME`` names no app.

    Example:
        >>> str(UnknownAppError("chess"))
        "no synthetic app 'chess'; apps: dialog, home, login, picker, settings"
        >>> str(UnknownAppError("logn"))
        "no synthetic app 'logn'; did you mean login, dialog? apps: dialog, home, login, picker, settings"
    """

    def __init__(self, name: str) -> None:
        self.name = name
        from vlagent.actions.suggest import did_you_mean

        super().__init__(f"no synthetic app {name!r}; {did_you_mean(name, APPS)}apps: {', '.join(sorted(APPS))}")


def availability() -> tuple[bool, str]:
    """Synthetic apps run wherever vlagent is installed; the detail says which font draws them."""
    path = font_file(False)
    return True, f"drawn with {path.name if path else 'Pillow’s built-in font (install fonts-dejavu-core for DejaVu)'}"


def make(arg: str | None, **kwargs: Any) -> SyntheticApp:
    """Build ``synthetic:APP``; keywords (``size``, ``scale``, ``render_mode``) go to the app's constructor.

    Example:
        >>> make("login", size="phone").screen.size
        (1080, 2400)
    """
    key = (arg or "").strip().lower()
    if key not in APPS:
        raise UnknownAppError(key)
    check_env_kwargs(APPS[key], kwargs, f"synthetic:{key}")
    return APPS[key](**kwargs)


__all__ = [
    "APPS", "NEEDS", "AppConfigError", "DialogApp", "HomeScreenApp", "LoginApp", "PickerApp", "ScreenSpec",
    "SettingsApp", "SyntheticApp", "UnknownAppError", "UnknownTaskError", "Widget", "availability", "make",
]

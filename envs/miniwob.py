"""MiniWoB++ web tasks in headless Chromium, driven with screen-pixel actions.

The ``miniwob`` package runs each task page (a 160 x 210 CSS-pixel area at the top left of the page) in
Chromium through Selenium/ChromeDriver. This env takes the screenshot itself at the browser's device pixel
ratio, so with ``scale=2`` (Chromium's ``--force-device-scale-factor``) the observation is 320 x 420 and
``Observation.scale`` is the ratio *measured* from the capture, as on a HiDPI desktop. An action's
``screen`` point ``(x, y)`` becomes the CSS pixel ``((x + 0.5) / scale, (y + 0.5) / scale)`` (the centre
of that screen pixel) in MiniWoB's own ``CLICK_COORDS``-style actions, so clicks go through the same
pointer events a person's would.

Actions (everything else raises :class:`~vlagent.actions.errors.UnsupportedActionError`):

- ``click`` (left button, single or double), ``move`` to a point (hover), ``drag`` (MiniWoB's own
  approximation: mouse down at ``start``, mouse up at ``end``), ``scroll`` up/down at a point (``amount``
  in tenths of the task height), ``type`` (into the focused element; ``submit`` presses Enter),
  ``key`` and ``hotkey`` (ctrl/shift/alt/meta plus one key), ``wait``.

The task's utterance is the observation's ``task`` (unless ``reset(options={"task": ...})`` words it
differently) and always its ``text``. After the episode ends the screen is MiniWoB's "START" cover.

Reward, termination and ``success`` (the task's raw reward > 0 at the end) come from the task page.
``info["oracle"]`` is the ground-truth next action for the tasks :mod:`vlagent.envs.miniwob_oracle`
knows (``None`` otherwise), and ``Observation.extra`` holds the DOM elements and fields MiniWoB reports.
``info["timings"]`` (:class:`~vlagent.envs.base.EnvTimings`): ``act`` (the task page's reset, or the
action's MiniWoB commands) and ``capture`` (the browser screenshot, decoded and cropped).

Chromium and ChromeDriver come from Debian (``apt-get install chromium chromium-driver``); their paths are
``MINIWOB_CHROME_BINARY`` / ``MINIWOB_CHROMEDRIVER`` (the variables the ``miniwob`` package reads),
defaulting to ``/usr/lib/chromium/chromium`` and ``/usr/bin/chromedriver``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib.util
import io
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from gymnasium.envs.registration import EnvSpec
from PIL import Image

from vlagent.actions.errors import UnsupportedActionError
from vlagent.actions.models import Click, Drag, Hotkey, Key, Move, Scroll, TypeText, Wait
from vlagent.envs.base import (
    ACT,
    CAPTURE,
    ActionSpace,
    EnvTimings,
    Handler,
    Observation,
    ObservationSpace,
    VlagentEnv,
    check_render_mode,
    task_option,
)
from vlagent.envs.errors import DependencyNotInstalled, DeviceError, check_env_kwargs
from vlagent.envs.miniwob_oracle import Element, Page, element_from_miniwob, oracle_action

NEEDS = (
    "pip install 'vlagent[miniwob]' (miniwob, selenium) and Debian's chromium + chromium-driver "
    "(paths in MINIWOB_CHROME_BINARY / MINIWOB_CHROMEDRIVER)"
)
_INSTALL_HINT = "pip install 'vlagent[miniwob]'"
#: Seconds a MiniWoB++ episode lasts before the page ends it ("timed out"): the benchmark's own 10 s.
DEFAULT_TIME_LIMIT = 10.0
_BROWSER_HINT = "sudo apt-get install chromium chromium-driver (or set MINIWOB_CHROME_BINARY and MINIWOB_CHROMEDRIVER)"

#: Flags for a quiet headless Chromium on a closed network; ``--no-sandbox`` because CI runs as root.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--window-size=800,600",  # a viewport taller than the 210-pixel task (500x320 leaves 177)
)

# vlagent key names -> WebDriver key names as MiniWoB's PRESS_KEY spells them.
_SPECIAL_KEYS = {
    "enter": "<Enter>", "esc": "<Escape>", "tab": "<Tab>", "backspace": "<Backspace>", "delete": "<Delete>",
    "space": "<Space>", "up": "<ArrowUp>", "down": "<ArrowDown>", "left": "<ArrowLeft>", "right": "<ArrowRight>",
    "home": "<Home>", "end": "<End>", "pageup": "<PageUp>", "pagedown": "<PageDown>", "insert": "<Insert>",
    "ctrl": "<Control>", "shift": "<Shift>", "alt": "<Alt>", "win": "<Meta>", "command": "<Meta>",
    "pause": "<Pause>", **{f"f{i}": f"<F{i}>" for i in range(1, 13)},
}
_MODIFIERS = {"ctrl": "C-", "shift": "S-", "alt": "A-", "win": "M-", "command": "M-", "option": "A-"}


class MiniWoBError(DeviceError):
    """The browser behind a MiniWoB++ task failed to start, load the task or answer."""


def browser_reason(exc: BaseException) -> str:
    r"""A selenium/chromedriver failure in one line: its type and message, without the native stack trace.

    ``str()`` of a ``WebDriverException`` appends chromedriver's ``Stacktrace:`` (some 20 lines of
    addresses) and a documentation link; neither says what happened, and the CLI prints errors as one line.

    Example:
        >>> class InvalidSessionIdException(Exception):
        ...     msg = "invalid session id\nfrom disconnected\n  (Session info: chrome=1); For documentation on this error"
        >>> browser_reason(InvalidSessionIdException())
        'InvalidSessionIdException: invalid session id from disconnected (Session info: chrome=1)'
    """
    text = getattr(exc, "msg", None) or str(exc)
    text = text.split("Stacktrace:")[0].split("; For documentation on this error")[0]
    return f"{type(exc).__name__}: {' '.join(text.split())}".rstrip(": ")


def browser_paths() -> tuple[str, str]:
    """The Chromium binary and ChromeDriver this env will use (env variables first, then Debian's paths)."""
    binary = os.environ.get("MINIWOB_CHROME_BINARY") or next(
        (p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "") if p and os.path.exists(p)),
        "/usr/lib/chromium/chromium",
    )
    driver = os.environ.get("MINIWOB_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return binary, driver


def availability() -> tuple[bool, str]:
    """Whether ``miniwob:TASK`` can run here: the packages import and Chromium + ChromeDriver exist."""
    missing = [pkg for pkg in ("miniwob", "selenium") if importlib.util.find_spec(pkg) is None]
    if missing:
        return False, f"{', '.join(missing)} not installed: {_INSTALL_HINT}"
    binary, driver = browser_paths()
    for what, path in (("chromium", binary), ("chromedriver", driver)):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return False, f"{what} not found at {path}: {_BROWSER_HINT}"
    return True, f"chromium {binary}, chromedriver {driver}"


def tasks() -> list[str]:
    """The MiniWoB++ task names the installed package ships (``click-test``, ``login-user``, ...)."""
    html = _miniwob_html_dir()
    return sorted(p.stem for p in html.glob("*.html"))


def _miniwob_html_dir() -> Path:
    spec = importlib.util.find_spec("miniwob")
    if spec is None or spec.origin is None:
        raise DependencyNotInstalled("miniwob", hint=_INSTALL_HINT)
    return Path(spec.origin).parent / "html" / "miniwob"


def _check_task(task: str) -> None:
    if task.startswith("flight."):
        raise MiniWoBError("the flight.* tasks need MiniWoB's HTTP server and a larger window; not supported here")
    if not (_miniwob_html_dir() / f"{task}.html").exists():
        raise MiniWoBError(unknown_task_message(task, tasks()))


def unknown_task_message(task: str, known: list[str]) -> str:
    """Why ``task`` is refused: the closest ``known`` names (~130 exist, too many for one line) and how to list all.

    Example:
        >>> print(unknown_task_message("click-buton", ["click-button", "click-test", "login-user"]))  # doctest: +ELLIPSIS
        unknown MiniWoB++ task 'click-buton'; did you mean click-button, click-test? The installed miniwob ships 3 tasks; ...
    """
    close = difflib.get_close_matches(task, known, n=5, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "no task has a close name."
    return (
        f"unknown MiniWoB++ task {task!r}; {hint} The installed miniwob ships {len(known)} tasks; list them all with: "
        "python -c 'from vlagent.envs.miniwob import tasks; print(*tasks(), sep=chr(10))'"
    )


@dataclasses.dataclass(frozen=True)
class _Launch:
    binary: str
    driver: str
    scale: float
    timeout: float
    time_limit: float = DEFAULT_TIME_LIMIT


@functools.cache
def _classes() -> tuple[type, type]:
    """MiniWoB's env and Selenium instance, subclassed to start Chromium with our flags and timeouts."""
    try:
        from miniwob.environment import MiniWoBEnvironment
        from miniwob.fields import get_field_extractor
        from miniwob.selenium_instance import SeleniumInstance
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.wait import WebDriverWait
    except ImportError as exc:
        raise DependencyNotInstalled(exc.name or "miniwob", hint=_INSTALL_HINT) from exc

    class Instance(SeleniumInstance):
        launch: _Launch

        def create_driver(self) -> None:
            launch = self.launch
            options = webdriver.ChromeOptions()
            options.binary_location = launch.binary
            for flag in CHROMIUM_FLAGS:
                options.add_argument(flag)
            options.add_argument(f"--force-device-scale-factor={launch.scale:g}")
            self.driver = webdriver.Chrome(service=Service(executable_path=launch.driver), options=options)
            self.driver.set_page_load_timeout(launch.timeout)
            self.driver.set_script_timeout(launch.timeout)
            try:
                self._load()
            except BaseException:
                self.driver.quit()  # the page never came up: do not leave the browser running
                raise

        def _load(self) -> None:
            self.driver.get(self.url)
            WebDriverWait(self.driver, self.launch.timeout).until(
                expected_conditions.element_to_be_clickable((By.ID, self.SYNC_SCREEN_ID))
            )
            self.inner_width, self.inner_height = self.driver.execute_script(
                "return [window.innerWidth, window.innerHeight];"
            )

        def begin_task(self, seed: Any = None) -> None:
            # The page reads its episode clock at the start of each episode; set it every time, since
            # load_task() brings a fresh page with MiniWoB's 10 s default.
            self.driver.execute_script(f"core.EPISODE_MAX_TIME = {round(self.launch.time_limit * 1000)};")
            super().begin_task(seed)

        def load_task(self, subdomain: str) -> None:
            """Open another task's page in the same browser (no new Chromium)."""
            self.field_extractor = get_field_extractor(subdomain)
            self.url = self.url.rsplit("/", 1)[0] + f"/{subdomain}.html"
            self._load()

    class Environment(MiniWoBEnvironment):
        def __init__(self, launch: _Launch, **kwargs: Any) -> None:
            self._launch = launch
            super().__init__(**kwargs)

        def switch_task(self, subdomain: str) -> None:
            self.instance.load_task(subdomain)
            self.subdomain = subdomain
            self.instance_kwargs["subdomain"] = subdomain

        def _hard_reset_instance(self) -> None:
            if getattr(self, "instance", None):
                self.instance.close()
            instance = Instance(index=0, **self.instance_kwargs)
            instance.launch = self._launch
            self.instance = instance
            instance.start()
            instance.wait()

    return Environment, Instance


class MiniWoBEnv(VlagentEnv):
    """One MiniWoB++ task in headless Chromium, taking screen-pixel actions.

    Example:
        >>> MiniWoBEnv.supported_actions >= {"click", "type", "key", "scroll"}
        True
    """

    family = "web"
    supported_actions = frozenset({"click", "move", "drag", "scroll", "type", "key", "hotkey", "wait"})

    def __init__(
        self,
        task: str,
        *,
        scale: float = 1.0,
        chrome_binary: str | None = None,
        chromedriver: str | None = None,
        timeout: float = 20.0,
        data_mode: str = "train",
        render_mode: str | None = "rgb_array",
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> None:
        """Start Chromium on ``task``.

        Args:
            task: a MiniWoB++ task name (``click-test``, ``login-user``; see :func:`tasks`).
            scale: Chromium's device scale factor; the screenshot is ``160*scale x 210*scale``.
            chrome_binary: the Chromium binary (default: ``MINIWOB_CHROME_BINARY`` or Debian's).
            chromedriver: ChromeDriver (default: ``MINIWOB_CHROMEDRIVER`` or Debian's).
            timeout: seconds allowed for page loads and scripts.
            data_mode: MiniWoB's data split (``train`` or ``test``) for tasks that have one.
            render_mode: ``rgb_array`` (the only mode; ``render()`` returns the last screenshot).
            time_limit: seconds an episode lasts before the task ends it with reward -1 ("timed out"), and
                the span its time-scaled reward is measured over. MiniWoB's 10 s suits scripted policies;
                a real model thinking for seconds a step needs more.
        """
        check_render_mode(render_mode, MiniWoBError)
        if not task:
            raise MiniWoBError("a MiniWoB++ task name is needed, e.g. miniwob:click-test")
        if not (0.5 <= scale <= 4):
            raise MiniWoBError(f"scale must be between 0.5 and 4, got {scale}")
        if not (isinstance(time_limit, int | float) and time_limit > 0):
            raise MiniWoBError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
        _check_task(task)
        default_binary, default_driver = browser_paths()
        launch = _Launch(chrome_binary or default_binary, chromedriver or default_driver, float(scale), float(timeout),
                         float(time_limit))
        for what, path in (("chromium", launch.binary), ("chromedriver", launch.driver)):
            if not os.path.isfile(path):
                raise DependencyNotInstalled(f"{what} ({path})", hint=_BROWSER_HINT)
        environment_cls, _ = _classes()
        from miniwob.action import ActionTypes

        self.task_name = task
        self._types = ActionTypes
        try:
            self._mw = environment_cls(launch, subdomain=task, data_mode=data_mode)
        except Exception as exc:  # selenium/chromedriver errors: the browser did not start
            raise MiniWoBError(f"Chromium did not start MiniWoB++ task {task!r}: {browser_reason(exc)}") from exc
        try:
            self._setup(task, scale, chrome_binary, chromedriver, timeout, data_mode, time_limit)
        except BaseException:
            self.close()  # never leave a Chromium behind
            raise

    def _setup(self, task: str, scale: float, chrome_binary: str | None,
               chromedriver: str | None, timeout: float, data_mode: str, time_limit: float) -> None:
        from miniwob.action import ActionSpaceConfig, ActionTypes

        self._mw.set_record_screenshots(False)  # this env captures at the device pixel ratio itself
        instance = self._mw.instance
        self._config = ActionSpaceConfig(
            action_types=list(ActionTypes),
            screen_width=instance.task_width,
            screen_height=instance.task_height,
            allowed_keys=list(_SPECIAL_KEYS.values()),
        )
        self._mw.action_space_config = self._config
        self.css_size = (int(instance.task_width), int(instance.task_height))
        self.render_mode = "rgb_array"
        # MiniWoB++ scales rewards by the seconds an episode took and reports them in info["elapsed"], so
        # the same seed and actions do not give the same reward twice: the spec says so, as miniwob's do.
        self.spec = EnvSpec(
            "vlagent/MiniWoB-v0", entry_point="vlagent.envs.miniwob:MiniWoBEnv", nondeterministic=True,
            kwargs={"task": task, "scale": scale, "chrome_binary": chrome_binary, "chromedriver": chromedriver,
                    "timeout": timeout, "data_mode": data_mode, "time_limit": time_limit},
        )
        first = self._capture()
        self.scale = first.width / self.css_size[0]
        self.observation_space = ObservationSpace(first.size, "web")
        self.action_space = ActionSpace(self.supported_actions, size=first.size)
        self._last_obs: Observation | None = None
        self._done = True
        self._utterance = ""
        self._task = ""
        self._fields: dict[str, str] = {}

    # -- gymnasium API -------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Observation, dict]:
        super().reset(seed=seed)
        if self._mw is None:
            raise MiniWoBError("this MiniWoB++ env is closed; make a new one")
        task, options = task_option(options)
        options.pop("record_screenshots", None)
        timings = EnvTimings()
        try:
            with timings.measure(ACT):
                raw, info = self._mw.reset(seed=seed, options=options)
        except Exception as exc:
            raise MiniWoBError(f"MiniWoB++ task {self.task_name!r} did not reset: {browser_reason(exc)}") from exc
        self._utterance = str(raw["utterance"])
        self._task = task or self._utterance
        self._fields = {str(k): str(v) for k, v in raw["fields"]}
        self._done = False
        obs = self._observe(raw, timings)
        return obs, self._info(info, obs, timings, done=False)

    def _step(self, action: Any) -> tuple[Observation, float, bool, bool, dict]:
        assert self._last_obs is not None  # step() has checked
        action = self.check_action(action, self._last_obs.size)
        timings = EnvTimings()
        raw: dict[str, Any] = {}
        reward, terminated, truncated, info = 0.0, False, False, {}
        with timings.measure(ACT):
            commands = self._handle(action)
            try:
                for command in commands:
                    raw, reward, terminated, truncated, info = self._mw.step(command)
                    if terminated:
                        break
            except Exception as exc:
                raise MiniWoBError(f"the browser failed on {action.type}: {browser_reason(exc)}") from exc
        self._done = bool(terminated or truncated)
        obs = self._observe(raw, timings)
        info = self._info(info, obs, timings, done=self._done)
        return obs, float(reward), bool(terminated), bool(truncated), info

    def switch_task(self, task: str) -> None:
        """Load another MiniWoB++ task in the same browser (saves starting Chromium again); reset next."""
        _check_task(task)
        try:
            self._mw.switch_task(task)
        except Exception as exc:
            raise MiniWoBError(f"the browser did not load MiniWoB++ task {task!r}: {browser_reason(exc)}") from exc
        self.task_name = task
        self.spec = dataclasses.replace(self.spec, kwargs={**self.spec.kwargs, "task": task})
        self._done = True
        self._last_obs = None

    def close(self) -> None:
        mw = getattr(self, "_mw", None)
        if mw is not None:
            mw.close()
            self._mw = None

    # -- actions -------------------------------------------------------------------------------------

    def _css(self, x: float, y: float) -> np.ndarray:
        """Screen pixel -> MiniWoB coordinates (CSS pixels), aiming at the centre of the pixel."""
        return np.array([(x + 0.5) / self.scale, (y + 0.5) / self.scale], dtype=np.float32)

    def _command(self, kind: Any, **fields: Any) -> dict[str, Any]:
        return {"action_type": self._config.action_types.index(kind), **fields}

    def _key_index(self, key: str) -> int:
        keys = self._config.allowed_keys
        if key not in keys:
            keys.append(key)
        return keys.index(key)

    def _webdriver_key(self, name: str) -> str:
        if name in _SPECIAL_KEYS:
            return _SPECIAL_KEYS[name]
        if len(name) == 1:
            return name
        raise UnsupportedActionError("key", self.supported_actions, detail=f"a browser has no {name!r} key")

    # Handlers: the MiniWoB++ commands that perform one action, in order.
    def _click(self, action: Click) -> list[dict[str, Any]]:
        if action.button != "left" or action.count > 2:
            raise UnsupportedActionError(
                "click", self.supported_actions, detail="MiniWoB++ clicks with the left button, once or twice"
            )
        kind = self._types.CLICK_COORDS if action.count == 1 else self._types.DBLCLICK_COORDS
        return [self._command(kind, coords=self._css(action.point.x, action.point.y))]

    def _move(self, action: Move) -> list[dict[str, Any]]:
        if action.point is None:
            raise UnsupportedActionError("move", self.supported_actions, detail="a web page takes move(point)")
        return [self._command(self._types.MOVE_COORDS, coords=self._css(action.point.x, action.point.y))]

    def _drag(self, action: Drag) -> list[dict[str, Any]]:
        t = self._types
        return [
            self._command(t.MOUSEDOWN_COORDS, coords=self._css(action.start.x, action.start.y)),
            self._command(t.MOUSEUP_COORDS, coords=self._css(action.end.x, action.end.y)),
        ]

    def _scroll(self, action: Scroll) -> list[dict[str, Any]]:
        if action.direction not in ("up", "down"):
            raise UnsupportedActionError(
                "scroll", self.supported_actions, detail="MiniWoB++ scrolls up or down only"
            )
        w, h = self._last_obs.size if self._last_obs is not None else (1, 1)
        x, y = (action.point.x, action.point.y) if action.point is not None else (w / 2, h / 2)
        self._config.scroll_amount = max(1, round(action.amount * self.css_size[1] / 10))
        kind = self._types.SCROLL_UP_COORDS if action.direction == "up" else self._types.SCROLL_DOWN_COORDS
        return [self._command(kind, coords=self._css(x, y))]

    def _type(self, action: TypeText) -> list[dict[str, Any]]:
        t = self._types
        enter = self._command(t.PRESS_KEY, key=self._key_index("<Enter>"))
        commands = []
        for i, line in enumerate(action.text.split("\n")):  # a newline is the Enter key, not a character
            if i:
                commands.append(enter)
            if line:
                commands.append(self._command(t.TYPE_TEXT, text=line))
        if action.submit:
            commands.append(enter)
        return commands

    def _key(self, action: Key) -> list[dict[str, Any]]:
        return [self._command(self._types.PRESS_KEY, key=self._key_index(self._webdriver_key(action.name)))]

    def _hotkey(self, action: Hotkey) -> list[dict[str, Any]]:
        mods = [k for k in action.keys if k in _MODIFIERS]
        rest = [k for k in action.keys if k not in _MODIFIERS]
        if len(rest) != 1:
            raise UnsupportedActionError(
                "hotkey", self.supported_actions, detail="MiniWoB++ presses modifiers plus exactly one key"
            )
        combo = "".join(dict.fromkeys(_MODIFIERS[m] for m in mods)) + self._webdriver_key(rest[0])
        return [self._command(self._types.PRESS_KEY, key=self._key_index(combo))]

    def _wait(self, action: Wait) -> list[dict[str, Any]]:
        time.sleep(action.seconds)  # the model asked for time to pass; then look again
        return [self._command(self._types.NONE)]

    action_handlers: ClassVar[Mapping[str, Handler]] = MappingProxyType({
        "click": _click,
        "move": _move,
        "drag": _drag,
        "scroll": _scroll,
        "type": _type,
        "key": _key,
        "hotkey": _hotkey,
        "wait": _wait,
    })

    # -- observation ---------------------------------------------------------------------------------

    def _capture(self) -> Image.Image:
        driver = self._mw.instance.driver
        try:
            png = driver.get_screenshot_as_png()
            inner_width = driver.execute_script("return window.innerWidth;")
        except Exception as exc:
            raise MiniWoBError(f"the browser did not return a screenshot: {browser_reason(exc)}") from exc
        image = Image.open(io.BytesIO(png)).convert("RGB")
        ratio = image.width / float(inner_width)  # measured device pixel ratio
        w, h = self.css_size
        return image.crop((0, 0, round(w * ratio), round(h * ratio)))

    def _observe(self, raw: dict[str, Any], timings: EnvTimings) -> Observation:
        with timings.measure(CAPTURE):
            image = self._capture()
        elements = [element_from_miniwob(e) for e in raw.get("dom_elements", ())]
        obs = Observation(
            image,
            task=self._task,
            text=self._utterance,
            scale=self.scale,
            family="web",
            extra={
                "task_name": self.task_name,
                "fields": dict(self._fields),
                "dom_elements": [dataclasses.asdict(e) for e in elements],
            },
        )
        self._last_obs = obs
        return obs

    def _info(self, info: dict[str, Any], obs: Observation, timings: EnvTimings, *, done: bool) -> dict[str, Any]:
        out = {k: v for k, v in info.items() if k != "root_dom"}  # root_dom is a live object, not data
        out["timings"] = timings
        raw_reward = float(out.get("raw_reward") or 0.0)
        out["success"] = bool(done and raw_reward > 0)
        out["task_name"] = self.task_name
        if done:
            out["oracle"] = None
        else:
            page = Page(
                [Element(**d) for d in obs.extra["dom_elements"]],
                self._fields,
                size=obs.size,
                scale=self.scale,
            )
            out["oracle"] = oracle_action(self.task_name, page)
        return out


def make(arg: str | None, **kwargs: Any) -> MiniWoBEnv:
    """Build the env for the spec ``miniwob:TASK``; keywords go to :class:`MiniWoBEnv`."""
    if not arg:
        raise MiniWoBError("the miniwob env spec needs a task name, e.g. miniwob:click-test")
    check_env_kwargs(MiniWoBEnv, {"task": arg, **kwargs}, f"miniwob:{arg}")
    return MiniWoBEnv(arg, **kwargs)

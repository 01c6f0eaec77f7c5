"""The ground-truth next action for MiniWoB++ click and form tasks, read from the DOM the env reports.

MiniWoB++ reports every element's tag, text, value, focus and box (CSS pixels of the page). For the tasks
in :data:`ORACLE_TASKS` that is enough to know the right next step: which button to click, which field to
focus, what to type. The oracle returns it as a vlagent action in ``screen`` space (pixels of the
observation image, ``scale`` physical pixels per CSS pixel), so a scripted policy can drive the env
through the same coordinate path a model's click takes, and tests can prove that path hits.

It is stateless: each call looks at the current DOM, so it recovers from a wrong step (a field
focused too early, a wrong character typed) instead of following a fixed script.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vlagent.actions.coords import Point
from vlagent.actions.models import Action, Click, Drag, Key, TypeText


@dataclass(frozen=True)
class Element:
    """One DOM element as MiniWoB++ reports it (box in CSS pixels of the page).

    Example:
        >>> Element(ref=4, parent=3, tag="button", text="OK", left=10, top=60, width=40, height=20).center
        (30.0, 70.0)
    """

    ref: int
    parent: int
    tag: str
    text: str = ""
    value: str = ""
    left: float = 0.0
    top: float = 0.0
    width: float = 0.0
    height: float = 0.0
    id: str = ""
    classes: str = ""
    focused: bool = False

    @property
    def center(self) -> tuple[float, float]:
        return self.left + self.width / 2, self.top + self.height / 2

    @property
    def checked(self) -> bool:
        """For checkboxes and radios, MiniWoB++ reports ``checked`` as the value."""
        return self.value == "True"

    def has_class(self, name: str) -> bool:
        return name in self.classes.split()


def _scalar(v: Any) -> float:
    try:
        return float(v[0])  # MiniWoB++ wraps numbers in 1-element arrays
    except (TypeError, IndexError):
        return float(v)


def element_from_miniwob(raw: Mapping[str, Any]) -> Element:
    """An :class:`Element` from one entry of MiniWoB++'s ``obs["dom_elements"]``.

    Example:
        >>> raw = {"ref": 4, "parent": 3, "tag": "button", "text": "OK", "value": "", "left": [10.0],
        ...        "top": [60.0], "width": [40.0], "height": [20.0], "id": "", "classes": "", "flags": [1, 0, 0, 1]}
        >>> element_from_miniwob(raw).focused
        True
    """
    flags = raw.get("flags", (0, 0, 0, 0))
    return Element(
        ref=int(raw["ref"]),
        parent=int(raw["parent"]),
        tag=str(raw["tag"]).lower(),
        text=str(raw.get("text", "")),
        value=str(raw.get("value", "")),
        left=_scalar(raw["left"]),
        top=_scalar(raw["top"]),
        width=_scalar(raw["width"]),
        height=_scalar(raw["height"]),
        id=str(raw.get("id", "")),
        classes=str(raw.get("classes", "")),
        focused=bool(flags[0]),
    )


@dataclass(frozen=True)
class Page:
    """The DOM of one MiniWoB++ screen, the task's fields and the screen geometry the oracle answers in.

    Example:
        >>> page = Page([Element(ref=4, parent=3, tag="button", text="OK", left=10, top=60, width=40, height=20)],
        ...             {}, size=(160, 210))
        >>> page.click(page.elements[0]).point
        Point(x=30.0, y=70.0, space='screen')
    """

    elements: Sequence[Element]
    fields: Mapping[str, str]
    size: tuple[int, int]  # screen pixels of the observation image
    scale: float = 1.0  # screen pixels per CSS pixel

    def find(self, predicate: Callable[[Element], bool]) -> list[Element]:
        return [e for e in self.elements if predicate(e)]

    def children(self, parent: Element) -> list[Element]:
        return [e for e in self.elements if e.parent == parent.ref]

    def _descends_from(self, element: Element, ancestor: Element) -> bool:
        parents = {e.ref: e.parent for e in self.elements}
        ref, seen = element.parent, set()
        while ref and ref not in seen:
            if ref == ancestor.ref:
                return True
            seen.add(ref)
            ref = parents.get(ref, 0)
        return False

    def _occluders(self, element: Element) -> list[Element]:
        """Elements after ``element`` in DOM order (painted over it) whose box overlaps it."""
        later = self.elements[next(i for i, e in enumerate(self.elements) if e.ref == element.ref) + 1:]
        return [
            e for e in later
            if e.tag != "t" and e.width > 0 and e.height > 0 and not self._descends_from(e, element)
            and e.left < element.left + element.width and element.left < e.left + e.width
            and e.top < element.top + element.height and element.top < e.top + e.height
        ]

    def visible_point(self, element: Element) -> tuple[float, float] | None:
        """The point of the element nearest its centre that no later element covers (CSS pixels)."""
        cover = self._occluders(element)
        cx, cy = element.center
        if not cover:
            return cx, cy
        steps = 8
        points = [
            (element.left + element.width * (i + 0.5) / steps, element.top + element.height * (j + 0.5) / steps)
            for i in range(steps) for j in range(steps)
        ]
        m = 2.0  # stay this many CSS pixels clear of a covering box, so rounding cannot land on it
        free = [
            (x, y) for x, y in points
            if not any(c.left - m <= x <= c.left + c.width + m and c.top - m <= y <= c.top + c.height + m
                       for c in cover)
        ]
        return min(free, key=lambda p: (p[0] - cx) ** 2 + (p[1] - cy) ** 2) if free else None

    def click(self, element: Element) -> Click | None:
        """A click on the visible part of the element nearest its centre; ``None`` if none is on screen."""
        point = self.visible_point(element)
        at = self.click_point(*point) if point is not None else None
        return Click(point=at) if at is not None else None

    def click_point(self, x: float, y: float) -> Point | None:
        """CSS pixels -> the screen pixel that contains them; ``None`` off the screen."""
        sx, sy = math.floor(x * self.scale), math.floor(y * self.scale)
        w, h = self.size
        if not (0 <= sx < w and 0 <= sy < h):
            return None
        return Point(x=sx, y=sy, space="screen")


def _first(elements: Iterable[Element]) -> Element | None:
    return next(iter(elements), None)


def _button(page: Page, text: str) -> Element | None:
    return _first(page.find(lambda e: e.tag == "button" and e.text.strip() == text))


def _fill(page: Page, wanted: Sequence[tuple[Element | None, str]], submit: Element | None) -> Action | None:
    """Focus each field and make its value the wanted one, then submit."""
    for field, want in wanted:
        if field is None:
            return None
        if field.value == want:
            continue
        if not field.focused:
            return page.click(field)
        if want.startswith(field.value):
            return TypeText(text=want[len(field.value):])
        return Key(name="backspace")  # a wrong character: erase until the value is a prefix again
    return page.click(submit) if submit is not None else None


def _inputs(page: Page, tag: str) -> list[Element]:
    return page.find(lambda e: e.tag == tag)


def _click_button_named(page: Page) -> Action | None:
    target = _button(page, page.fields.get("target", ""))
    return page.click(target) if target else None


def _click_test(page: Page) -> Action | None:
    button = _first(page.find(lambda e: e.tag == "button"))
    return page.click(button) if button else None


def _click_link(page: Page) -> Action | None:
    target = page.fields.get("target", "")
    link = _first(page.find(lambda e: e.tag == "span" and e.has_class("alink") and e.text.strip() == target))
    return page.click(link) if link else None


def _dialog_close(page: Page) -> Element | None:
    return _first(page.find(lambda e: e.tag == "button" and e.has_class("ui-dialog-titlebar-close")))


def _click_dialog(page: Page) -> Action | None:
    close = _dialog_close(page)
    return page.click(close) if close else None


def _click_dialog_2(page: Page) -> Action | None:
    target = page.fields.get("target", "")
    button = _dialog_close(page) if target.lower() == "x" else _button(page, target)
    return page.click(button) if button else None


def _focus_text(page: Page) -> Action | None:
    box = _first(_inputs(page, "input_text"))
    return page.click(box) if box else None


def _focus_text_2(page: Page) -> Action | None:
    boxes = _inputs(page, "input_text")
    n = int(page.fields.get("target", "1"))
    return page.click(boxes[n - 1]) if 0 < n <= len(boxes) else None


def _enter_text(page: Page) -> Action | None:
    return _fill(page, [(_first(_inputs(page, "input_text")), page.fields.get("target", ""))], _button(page, "Submit"))


def _enter_password(page: Page) -> Action | None:
    target = page.fields.get("target", "")
    boxes = _inputs(page, "input_password")
    if len(boxes) != 2:
        return None
    return _fill(page, [(boxes[0], target), (boxes[1], target)], _button(page, "Submit"))


def _login_user(page: Page) -> Action | None:
    user = _first(page.find(lambda e: e.id == "username"))
    password = _first(page.find(lambda e: e.id == "password"))
    return _fill(
        page,
        [(user, page.fields.get("username", "")), (password, page.fields.get("password", ""))],
        _button(page, "Login"),
    )


def _labelled(page: Page, tag: str) -> list[tuple[Element, str]]:
    """Checkboxes/radios with the text of their ``<label>``."""
    found = []
    for box in page.find(lambda e: e.tag == tag):
        label = " ".join(e.text.strip() for e in page.elements if e.parent == box.parent and e.tag == "t")
        found.append((box, label))
    return found


def _click_option(page: Page) -> Action | None:
    target = page.fields.get("target", "")
    radio = _first(box for box, label in _labelled(page, "input_radio") if label == target)
    if radio is None:
        return None
    if not radio.checked:
        return page.click(radio)
    submit = _button(page, "Submit")
    return page.click(submit) if submit else None


def _click_checkboxes(page: Page) -> Action | None:
    targets = {v for k, v in page.fields.items() if k.startswith("target")}
    for box, label in _labelled(page, "input_checkbox"):
        if box.checked != (label in targets):
            return page.click(box)
    submit = _button(page, "Submit")
    return page.click(submit) if submit else None


def _inside(inner: Element, outer: Element) -> bool:
    return (outer.left <= inner.left and inner.left + inner.width <= outer.left + outer.width
            and outer.top <= inner.top and inner.top + inner.height <= outer.top + outer.height)


def _drag_box(page: Page) -> Action | None:
    small = _first(page.find(lambda e: e.id == "draggableSmall"))
    large = _first(page.find(lambda e: e.id == "draggableLarge"))
    if small is None or large is None:
        return None
    if _inside(small, large):
        submit = _button(page, "Submit")
        return page.click(submit) if submit else None
    grab = page.visible_point(small)
    if grab is None:
        return None
    # move the small box by the offset between the two centres, wherever on it the grab is
    (sx, sy), (lx, ly) = small.center, large.center
    start = page.click_point(*grab)
    end = page.click_point(grab[0] + lx - sx, grab[1] + ly - sy)
    return Drag(start=start, end=end) if start is not None and end is not None else None


#: The tasks the oracle knows, by MiniWoB++ task name.
ORACLES: dict[str, Callable[[Page], Action | None]] = {
    "click-test": _click_test,
    "click-test-2": _click_button_named,
    "click-test-transfer": _click_button_named,
    "click-button": _click_button_named,
    "click-link": _click_link,
    "click-dialog": _click_dialog,
    "click-dialog-2": _click_dialog_2,
    "focus-text": _focus_text,
    "focus-text-2": _focus_text_2,
    "enter-text": _enter_text,
    "enter-text-dynamic": _enter_text,
    "enter-password": _enter_password,
    "login-user": _login_user,
    "click-option": _click_option,
    "click-checkboxes": _click_checkboxes,
    "drag-box": _drag_box,
}
ORACLE_TASKS: frozenset[str] = frozenset(ORACLES)


def oracle_action(task: str, page: Page) -> Action | None:
    """The right next action on ``page`` for ``task``, or ``None`` for a task or page it does not know.

    Example:
        >>> button = Element(ref=4, parent=3, tag="button", text="Click Me!", left=12, top=123, width=37, height=37)
        >>> oracle_action("click-test", Page([button], {}, size=(320, 420), scale=2.0)).point
        Point(x=61.0, y=283.0, space='screen')
    """
    oracle = ORACLES.get(task)
    return oracle(page) if oracle is not None else None

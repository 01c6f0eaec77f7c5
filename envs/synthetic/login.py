"""A sign-in form: username, password, "Remember me", "Forgot password?" and a Sign in button.

The task names the account and password; success is submitting both correctly (the Sign in button or
Enter). Wrong credentials show an error and leave the form to be fixed. Fields take clicks to focus, typed
text, Backspace, Ctrl+A then typing to replace, Tab to move on, and a clear (x) button.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from vlagent.actions.models import Action, TypeText
from vlagent.envs.synthetic.app import SyntheticApp, match_task
from vlagent.envs.synthetic.screen import Painter
from vlagent.envs.synthetic.widgets import (
    DANGER,
    INK,
    MUTED,
    PRIMARY,
    SURFACE,
    FieldState,
    Widget,
    button,
    checkbox,
    status_bar,
    text_field,
)

SERVICES = ("Acme Mail", "Northwind CRM", "Contoso Cloud", "Globex Portal", "Initech HR")
USERS = ("alice", "bob.smith", "carol_w", "dmitri", "emma.j", "farid92", "grace.h", "hiro")
WORDS = ("sunset", "maple", "orbit", "falcon", "cobalt", "lemon", "harbor", "quartz")
_Q = "['\"“”‘’]?"
_V = "[^\\s'\"“”‘’]+"
TEMPLATES = (
    "Sign in as '{user}' with password '{password}'",
    "Log in with username '{user}' and password '{password}'",
)
PATTERNS = (
    re.compile(rf"(?i:sign|log) in as {_Q}(?P<user>{_V}){_Q} (?i:with|using) (?i:the )?(?i:password) {_Q}(?P<password>{_V}){_Q}"),
    re.compile(rf"(?i:sign|log) in with (?i:username|user) {_Q}(?P<user>{_V}){_Q} (?i:and) (?i:password) {_Q}(?P<password>{_V}){_Q}"),
)
FIELDS = ("username", "password")
#: What made-up credentials are spelled with (:func:`random_credentials`): what the task's quotes can hold.
CREDENTIAL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789._"


def random_credentials(rng: np.random.Generator, pieces: Sequence[str] = ()) -> tuple[str, str]:
    """A username and password no fixed list holds: 3-9 letters, digits, dots or underscores each (or pieces).

    The app's own draw (:data:`USERS`, :data:`WORDS`) is a handful of words; training on it alone teaches a
    model to type those words whatever the task says.

    ``pieces`` (a tokenizer's multi-character tokens spelled with :data:`CREDENTIAL_CHARS`, see
    :func:`credential_pieces`) builds each string from two to four parts instead, each a piece or a character
    at even odds, the first starting with a letter. Strings of single characters almost never hold a word
    piece, so a model trained on them copies characters and not the pieces real names are made of
    (``emma``, ``farid``). Without pieces the draw is the original one, seed for seed.

    Example:
        >>> user, password = random_credentials(np.random.default_rng(0))
        >>> 3 <= len(user) <= 9 and set(user + password) <= set(CREDENTIAL_CHARS)
        True
        >>> user, password = random_credentials(np.random.default_rng(0), pieces=("emma", "ap", "_w"))
        >>> set(user + password) <= set(CREDENTIAL_CHARS)
        True
    """
    def one() -> str:
        first = CREDENTIAL_CHARS[int(rng.integers(26))]  # a letter first, as user names start
        return first + "".join(CREDENTIAL_CHARS[i] for i in rng.integers(len(CREDENTIAL_CHARS), size=int(rng.integers(2, 9))))

    if not pieces:
        return one(), one()
    leading = [p for p in pieces if p[0] in CREDENTIAL_CHARS[:26]]

    def part(start: bool) -> str:
        if rng.random() < 0.5:
            pool = leading if start else pieces
            return pool[int(rng.integers(len(pool)))] if pool else CREDENTIAL_CHARS[int(rng.integers(26))]
        return CREDENTIAL_CHARS[int(rng.integers(26 if start else len(CREDENTIAL_CHARS)))]

    def built() -> str:
        return "".join(part(i == 0) for i in range(int(rng.integers(2, 5))))

    return built(), built()


def credential_pieces(tokens: Iterable[str]) -> tuple[str, ...]:
    """The multi-character tokens of a vocabulary (decoded) that :data:`CREDENTIAL_CHARS` can spell, sorted.

    Example:
        >>> credential_pieces(["emma", " in", "a", "Sign", "92", "emma"])
        ('92', 'emma')
    """
    allowed = set(CREDENTIAL_CHARS)
    return tuple(sorted({t for t in tokens if len(t) > 1 and set(t) <= allowed}))


@dataclass(frozen=True)
class LoginGoal:
    user: str
    password: str


class LoginApp(SyntheticApp):
    """A sign-in form; the task gives the username and password to submit.

    Example:
        >>> env = LoginApp(size="desktop")
        >>> obs, info = env.reset(options={"task": "Sign in as 'ann' with password 'pw1'"})
        >>> info["oracle"].box == env.widget("field:username").box
        True
    """

    name = "login"
    description = "a sign-in form: type a username and password, submit"
    task_examples = (TEMPLATES[0].format(user="alice", password="maple42"),)

    def _parse_task(self, text: str) -> LoginGoal | None:
        m = match_task(PATTERNS, text)
        return LoginGoal(m["user"], m["password"]) if m else None

    def _setup(self, rng: np.random.Generator, goal: LoginGoal | None) -> None:
        self.service = SERVICES[int(rng.integers(len(SERVICES)))]
        drawn = LoginGoal(USERS[int(rng.integers(len(USERS)))], f"{WORDS[int(rng.integers(len(WORDS)))]}{int(rng.integers(10, 100))}")
        self.goal = goal or drawn
        self.task = TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(user=self.goal.user, password=self.goal.password)
        self.fields = {name: FieldState() for name in FIELDS}
        self.focus: str | None = None
        self.remember = bool(rng.integers(2))
        self.message = ""
        self.signed_in = False

    # ---- drawing -------------------------------------------------------------------------------------
    def _draw(self, p: Painter) -> list[Widget]:
        top = status_bar(p) if self.family == "mobile" else 0
        w, h = self.screen.width, self.screen.height
        cw, ch = min(p.u(400), w - p.u(32)), p.u(404)
        x1 = (w - cw) // 2
        y1 = max(top + p.u(32), (h - ch) // 2)
        p.rect((x1, y1, x1 + cw, y1 + ch), fill=SURFACE, radius=10)
        pad = p.u(24)
        left, right = x1 + pad, x1 + cw - pad
        if self.signed_in:
            p.text((left, y1 + p.u(44)), f"Welcome, {self.goal.user}", size=24, fill=INK, bold=True)
            p.text((left, y1 + p.u(80)), f"You are signed in to {self.service}.", size=15, fill=MUTED)
            return []
        p.text((left, y1 + p.u(40)), "Sign in", size=26, fill=INK, bold=True)
        p.text((left, y1 + p.u(72)), f"to continue to {self.service}", size=15, fill=MUTED)
        widgets: list[Widget] = []
        for i, name in enumerate(FIELDS):
            fy = y1 + p.u(122 + 82 * i)
            label = name.capitalize()
            p.text((left, fy - p.u(14)), label, size=14, fill=INK, bold=True)
            widgets += text_field(
                p, (left, fy, right, fy + p.u(48)), self.fields[name], name=f"field:{name}", label=label,
                placeholder=f"Enter your {name}", focused=self.focus == name, secret=name == "password",
            )
        row = y1 + p.u(266)
        widgets.append(checkbox(p, (left, row, left + p.u(150), row + p.u(32)), name="checkbox:remember",
                                label="Remember me", checked=self.remember, text_size=14))
        link = "Forgot password?"
        lw = p.text_width(link, size=14)
        p.text((right - lw, row + p.u(16)), link, size=14, fill=PRIMARY)
        widgets.append(Widget.at("link:forgot", "link", link, (right - lw - p.u(4), row, right, row + p.u(32))))
        if self.message:
            error = self.message.startswith("Incorrect")
            p.text((left, row + p.u(50)), self.message, size=13, fill=DANGER if error else MUTED,
                   max_width=right - left)
        by = y1 + p.u(332)
        widgets.append(button(p, (left, by, right, by + p.u(48)), "Sign in", name="button:sign_in"))
        return widgets

    # ---- input ---------------------------------------------------------------------------------------
    def _focused_field(self) -> FieldState | None:
        return self.fields[self.focus] if self.focus else None

    def _on_click(self, widget: Widget | None) -> None:
        name = widget.name if widget else ""
        if name.startswith("field:"):
            self._focus(name.partition(":")[2])
        elif name.startswith("clear:"):
            self._focus(name.partition(":")[2])
            self.fields[self.focus].clear()
        elif name == "checkbox:remember":
            self.remember = not self.remember
        elif name == "link:forgot":
            self.message = "Ask your administrator to reset your password."
        elif name == "button:sign_in":
            self._submit()
        else:
            self._focus(None)

    def _focus(self, name: str | None) -> None:
        """Move the caret; a click or Tab also drops a select-all."""
        self.focus = name
        for field in self.fields.values():
            field.selected = False

    def _on_key(self, name: str) -> None:
        if name == "enter":
            self._submit()
        elif name == "tab":
            self._focus(FIELDS[(FIELDS.index(self.focus) + 1) % len(FIELDS)] if self.focus else FIELDS[0])
        else:
            super()._on_key(name)

    def _submit(self) -> None:
        if self.signed_in:
            return
        if self.fields["username"].text == self.goal.user and self.fields["password"].text == self.goal.password:
            self.signed_in = True
        else:
            self.message = "Incorrect username or password. Try again."

    # ---- judging -------------------------------------------------------------------------------------
    def _success(self) -> bool:
        return self.signed_in

    def _oracle(self) -> Action | None:
        for name, want in (("username", self.goal.user), ("password", self.goal.password)):
            field = self.fields[name]
            if field.text == want:
                continue
            replacing = field.selected and self.focus == name
            if field.text and not replacing and not want.startswith(field.text):
                return self.widget(f"clear:{name}").click()
            if self.focus != name:
                return self.widget(f"field:{name}").click()
            return TypeText(text=want if replacing else want[len(field.text):])
        return self.widget("button:sign_in").click()

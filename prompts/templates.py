"""Prompt templates shipped as package resources (``prompts/templates/*.txt``).

Templates are read with :mod:`importlib.resources`, so they work from a wheel or a zip as well as from a
checkout. A template is plain text with ``$name`` placeholders (:class:`string.Template`), chosen over
``str.format`` because the prompts are full of JSON braces. Lines at the top that start with ``#:`` are
comments for maintainers (where the wording came from) and never reach a model.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from importlib import resources

from vlagent.prompts.errors import TemplateError

_PACKAGE = "vlagent.prompts"
_COMMENT = "#:"


@functools.cache
def load_template(name: str) -> str:
    """The text of ``templates/<name>`` without its leading ``#:`` comment lines.

    Example:
        >>> load_template("assistant_system.txt")
        'You are a helpful assistant.'
    """
    if "/" in name or "\\" in name or not name.endswith(".txt"):
        raise TemplateError(f"template names are bare .txt file names, got {name!r}")
    try:
        raw = resources.files(_PACKAGE).joinpath("templates", name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"no template {name!r} in {_PACKAGE}/templates") from None
    lines = raw.split("\n")
    while lines and lines[0].startswith(_COMMENT):
        lines.pop(0)
    return "\n".join(lines).removesuffix("\n")


def available_templates() -> list[str]:
    """Names of every packaged template, sorted."""
    folder = resources.files(_PACKAGE).joinpath("templates")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".txt"))


def render(name: str, values: Mapping[str, str], texts: Mapping[str, str] | None = None) -> str:
    """Fill template ``name``; a placeholder without a value is a :class:`TemplateError`, not blank text.

    ``texts`` are templates a profile carries itself (name -> text), used before the packaged ones.

    Example:
        >>> render("assistant_system.txt", {})
        'You are a helpful assistant.'
        >>> render("mine.txt", {"task": "log in"}, {"mine.txt": "Do this: $task"})
        'Do this: log in'
    """
    text = texts[name] if texts and name in texts else load_template(name)
    try:
        return string.Template(text).substitute(values)
    except KeyError as exc:
        raise TemplateError(f"template {name!r} needs a value for ${exc.args[0]}") from None
    except ValueError as exc:  # a stray "$" in the template text
        raise TemplateError(f"template {name!r} is malformed: {exc}") from None

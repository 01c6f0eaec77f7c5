"""Model backends: chats in, generations out, behind one :class:`ModelBackend` protocol.

Importing this package loads neither torch nor openai: prompts/ and the ``parse`` command import
:mod:`vlagent.model.chat`, and each backend imports its heavy library when it is built.

Example:
    >>> make_backend("carrier-pigeon", "x")
    Traceback (most recent call last):
    ...
    vlagent.model.errors.ModelRejected: unknown backend 'carrier-pigeon'; use one of transformers, openai, python
"""

from __future__ import annotations

from typing import Any

from vlagent.model.chat import (
    Chat,
    Generation,
    GenerationOptions,
    ImagePart,
    Message,
    ModelBackend,
    TextPart,
    VideoPart,
)
from vlagent.model.errors import ModelLoadError, ModelRejected, ModelUnavailable
from vlagent.model.openai_backend import OpenAIBackend
from vlagent.model.python_backend import PythonBackend
from vlagent.model.transformers_backend import TransformersBackend

BACKENDS = ("transformers", "openai", "python")


def make_backend(kind: str, model: str, **kwargs: Any) -> ModelBackend:
    """Build a backend by name; keyword arguments go to the backend's constructor.

    ``transformers`` takes a hub id or folder, ``openai`` a served model name (with ``base_url=``),
    ``python`` a ``module:attr`` spec.
    """
    if kind == "transformers":
        return TransformersBackend(model, **kwargs)
    if kind == "openai":
        return OpenAIBackend(model, **kwargs)
    if kind == "python":
        if kwargs:
            raise ModelRejected(f"the python backend takes no options, got {sorted(kwargs)}")
        return PythonBackend.from_spec(model)
    raise ModelRejected(f"unknown backend {kind!r}; use one of {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "Chat",
    "Generation",
    "GenerationOptions",
    "ImagePart",
    "Message",
    "ModelBackend",
    "ModelLoadError",
    "ModelRejected",
    "ModelUnavailable",
    "OpenAIBackend",
    "PythonBackend",
    "TextPart",
    "TransformersBackend",
    "VideoPart",
    "make_backend",
]

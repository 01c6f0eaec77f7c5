"""Errors of the agent loop (see the tree in ``vlagent.actions.errors``).

::

    ActionError
    └── ActionRefused          the safety policy refused an action (deny-list, the user said no)
    AgentError
    ├── TrajectoryError        a run folder is missing or its files do not read back
    ├── SuiteError             an unknown evaluation suite or a bad episode list
    │   └── ResumeMismatch     an eval folder holds episodes run under another configuration
    ├── SafetyConfigError      a sensitive action type or a deny-listed key combination that means nothing
    └── SecretError            a --secret that is not NAME=VALUE, or too short to mask safely
"""

from __future__ import annotations

from vlagent.actions.errors import ActionError, AgentError


class ActionRefused(ActionError):
    """The safety policy refused to execute an action; the loop tells the model and executes nothing.

    Example:
        >>> str(ActionRefused("hotkey alt+f4", reason="on the deny-list"))
        'refused hotkey alt+f4: on the deny-list'
    """

    def __init__(self, summary: str, *, reason: str) -> None:
        self.summary = summary
        self.reason = reason
        super().__init__(f"refused {summary}: {reason}")


class TrajectoryError(AgentError):
    """A run folder is missing, or its ``meta.json``/``steps.jsonl`` do not read back.

    Example:
        >>> isinstance(TrajectoryError("no meta.json in runs/x"), AgentError)
        True
    """


class SuiteError(AgentError):
    """An unknown evaluation suite, or episodes that cannot be built on this machine.

    Example:
        >>> isinstance(SuiteError("unknown suite 'x'"), AgentError)
        True
    """


class ResumeMismatch(SuiteError):
    """An evaluation folder's episodes were run under another configuration (model, profile, episodes...).

    Resuming there would count another model's episodes as this one's; the message names what differs.

    Example:
        >>> isinstance(ResumeMismatch("runs/x holds episodes of another configuration"), SuiteError)
        True
    """


class SafetyConfigError(AgentError, ValueError):
    """A safety setting that would silently protect nothing: an unknown action type, an unreadable key combo.

    Example:
        >>> isinstance(SafetyConfigError("no"), ValueError)
        True
    """


class SecretError(AgentError, ValueError):
    """A ``--secret`` that is not ``NAME=VALUE``, or a value too short to mask; the message never shows a value.

    Example:
        >>> isinstance(SecretError("bad"), AgentError)
        True
    """

"""vlagent's exception tree.

Every error vlagent raises on purpose derives from :class:`VlagentError`, so a caller (the CLI, the
loop) can catch one root and let real bugs through. The tree, as httpx lists its own::

    VlagentError
    ├── ActionError                      a reply could not become an action; the loop feeds it back
    │   ├── ActionParseError             nothing in the reply parses; carries the raw text
    │   ├── CoordinateError              a point lies outside the image beyond the tolerance
    │   ├── UnsupportedActionError       the env does not perform this action type
    │   │   └── NonAsciiTextError        (envs/android_input.py) no ADB Keyboard for non-ASCII text
    │   ├── UnknownOptionError           (envs/gym_names.py) no such named action in this game
    │   ├── AppNotFound                  (envs/errors.py) open_app named an app the env cannot launch
    │   └── ActionRefused                (agent/errors.py) the user or the deny-list said no
    ├── ImageSizeError                   an image Qwen's smart_resize refuses (also a ValueError)
    ├── PluginError                      a plugin (VLAGENT_PLUGINS, an entry point) that cannot be loaded
    ├── ProfileError                     unknown profile or env family (prompts/)
    │   ├── TemplateError                (prompts/errors.py) a template is missing or malformed
    │   └── PromptRequestError           (prompts/errors.py) a request a profile cannot render
    ├── ModelError                       a backend could not produce text (model/errors.py)
    │   ├── ModelUnavailable             timeout, connection refused, 5xx: retrying may help
    │   ├── ModelRejected                4xx, a bad request: retrying will not help
    │   └── ModelLoadError               weights missing, offline, out of memory, unreadable image
    ├── EnvError                         an environment could not observe or act (envs/errors.py)
    │   ├── DependencyNotInstalled       an optional package or program is missing
    │   ├── DeviceError                  the screen, phone or browser failed or vanished
    │   │   ├── MiniWoBError             (envs/miniwob.py)
    │   │   ├── StopHotkeyError          (envs/stop_hotkey.py) the stop hotkey cannot be armed (no RECORD)
    │   │   └── RecorderError            (envs/errors.py) a demonstration cannot be recorded
    │   ├── FailSafeTriggered            (envs/desktop.py) the pointer hit pyautogui's fail-safe corner
    │   ├── GymEnvError                  (envs/gym_adapter.py) the wrapped env cannot be adapted
    │   ├── ResetNeeded                  step before reset or after the episode ended
    │   ├── EnvKwargsError               (envs/errors.py) --env-kwargs: a keyword or a value's type the env refuses
    │   ├── EnvSpecError, EnvUnavailable (envs/registry.py) a bad env spec, an env this machine lacks
    │   └── UnknownAppError, UnknownTaskError, AppConfigError  (envs/synthetic/) no such app, task or size
    ├── AgentError                       the loop itself (agent/errors.py)
    │   ├── SuiteError                   an unknown evaluation suite
    │   │   └── ResumeMismatch           an eval folder holds another configuration's episodes
    │   ├── TrajectoryError              a run folder that cannot be read or written
    │   └── SecretError                  (agent/errors.py) a --secret that is not NAME=VALUE
    └── TrainingError                    (model/training/errors.py) a training run cannot start or go on
        ├── TrainingDataError            no usable samples, a reply the target profile cannot write
        ├── CheckpointError              a checkpoint that belongs to another run
        └── MissingTrainingExtra         LoRA asked for without peft (the ``train`` extra)

The loop feeds every :class:`ActionError` back to the model as text and never executes a guess.
"""

from __future__ import annotations

from collections.abc import Iterable


class VlagentError(Exception):
    """Root of every error vlagent raises on purpose.

    Example:
        >>> isinstance(ActionParseError("hello", expected="click(...)"), VlagentError)
        True
    """

    exit_code: int = 1


class ActionError(VlagentError):
    """A model reply could not be turned into an executable action.

    Example:
        >>> isinstance(CoordinateError("off screen"), ActionError), ActionError.exit_code
        (True, 2)
    """

    exit_code = 2


class ActionParseError(ActionError):
    """Nothing executable was found in a reply.

    The raw text rides along so the loop can show the model exactly what it wrote, and the message says
    what the parser was looking for.

    Example:
        >>> err = ActionParseError("I think I should click", expected="click(start_box='(x,y)')")
        >>> err.raw
        'I think I should click'
    """

    def __init__(self, raw: str, *, expected: str, reason: str = "no action found") -> None:
        self.raw = raw
        self.expected = expected
        self.reason = reason
        preview = raw if len(raw) <= 200 else raw[:200] + "..."
        super().__init__(f"{reason}; expected {expected}; got {preview!r}")


class CoordinateError(ActionError):
    """A point lies outside the image (beyond the clamping tolerance) or in an unusable space.

    Example:
        >>> err = CoordinateError("point (1200, 40) is outside [0, 1000)", x=1200, y=40)
        >>> err.x, str(err)
        (1200, 'point (1200, 40) is outside [0, 1000)')
    """

    def __init__(self, message: str, *, x: float | None = None, y: float | None = None) -> None:
        self.x = x
        self.y = y
        super().__init__(message)


class UnsupportedActionError(ActionError):
    """The environment does not perform this action type.

    Example:
        >>> str(UnsupportedActionError("open_app", ["click", "type"]))
        "action 'open_app' is not supported here; supported: click, type"
    """

    def __init__(self, action_type: str, supported: Iterable[str], *, detail: str = "") -> None:
        self.action_type = action_type
        self.supported = sorted(supported)
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"action {action_type!r} is not supported here{extra}; supported: {', '.join(self.supported)}"
        )


class ImageSizeError(VlagentError, ValueError):
    """An image Qwen2-VL's processor cannot resize: a side that is not positive, or an aspect ratio above 200.

    Also a ``ValueError``, as transformers' own ``smart_resize`` reports the same images.

    Example:
        >>> isinstance(ImageSizeError("6000x20"), ValueError)
        True
    """


class PluginError(VlagentError):
    """A plugin named by ``VLAGENT_PLUGINS`` or an entry point that cannot be imported or registered.

    Example:
        >>> str(PluginError("cannot import plugin 'nope'"))
        "cannot import plugin 'nope'"
    """


class ProfileError(VlagentError):
    """An unknown model profile or env family was asked for.

    Example:
        >>> ProfileError("unknown profile 'qwen9'").exit_code
        1
    """


class ModelError(VlagentError):
    """A model backend could not produce text (subclasses live in model/errors.py).

    Example:
        >>> ModelError.exit_code, isinstance(ModelError("no reply"), VlagentError)
        (3, True)
    """

    exit_code = 3


class EnvError(VlagentError):
    """An environment could not observe or act (subclasses live in envs/errors.py).

    Example:
        >>> EnvError.exit_code, isinstance(EnvError("no display"), VlagentError)
        (4, True)
    """

    exit_code = 4


class AgentError(VlagentError):
    """The agent loop could not go on.

    Example:
        >>> AgentError.exit_code, isinstance(AgentError("bad run folder"), VlagentError)
        (5, True)
    """

    exit_code = 5

"""Errors the model backends raise, mapped from library exceptions where they first arise.

As openai-python separates ``APIConnectionError`` from ``APIStatusError``, retryable failures are kept
apart from permanent ones, so the loop (and the OpenAI backend's own retry) knows what to do::

    ModelError (actions/errors.py)
    ├── ModelUnavailable     timeout, connection refused, HTTP 5xx/429: retrying may help
    ├── ModelRejected        HTTP 4xx, a malformed request or reply: retrying will not help
    └── ModelLoadError       no weights at the path, offline with a hub id, CUDA out of memory,
                             an image that cannot be read

Every backend raises ``raise ModelX(...) from exc`` so the library's traceback stays attached.
"""

from __future__ import annotations

from vlagent.actions.coords import QWEN2_VL_FACTOR
from vlagent.actions.errors import ModelError

#: The command the messages suggest for fetching weights (a placeholder for the user's own checkpoint).
DOWNLOAD_HINT = "hf download Qwen/Qwen2-VL-2B-Instruct --local-dir {path}"


class ModelUnavailable(ModelError):
    """The model could not be reached or failed on its side; the same request may succeed later.

    Example:
        >>> err = ModelUnavailable("connection refused", status_code=None)
        >>> isinstance(err, ModelError), err.retryable
        (True, True)
    """

    retryable = True

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


class ModelRejected(ModelError):
    """The request itself is wrong (HTTP 4xx, a bad option); sending it again gives the same answer.

    Example:
        >>> ModelRejected("unknown model 'x'", status_code=404).status_code
        404
    """

    retryable = False

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


class ModelLoadError(ModelError):
    """The model or its input could not be loaded: weights missing, offline, out of memory, bad image.

    The message says what to do next (the download command, a lower ``max_pixels``).

    Example:
        >>> "hf download" in str(ModelLoadError.no_weights("/models/qwen"))
        True
    """

    retryable = False

    @classmethod
    def no_weights(cls, path: str, detail: str = "") -> ModelLoadError:
        extra = f" ({detail})" if detail else ""
        return cls(
            f"no Qwen2-VL weights at {path!r}{extra}; fetch them where there is network, e.g. "
            f"`{DOWNLOAD_HINT.format(path=path)}`, then pass that folder as the model"
        )

    @classmethod
    def offline(cls, hub_id: str, detail: str = "") -> ModelLoadError:
        extra = f": {detail}" if detail else ""
        return cls(
            f"could not fetch {hub_id!r} from the Hugging Face Hub (offline, HF_HUB_OFFLINE=1, or not in the "
            f"cache){extra}; download it where there is network with "
            f"`hf download {hub_id} --local-dir DIR` and pass DIR as the model"
        )

    @classmethod
    def out_of_memory(cls, max_pixels: int | None, detail: str = "") -> ModelLoadError:
        budget = f"(now {max_pixels})" if max_pixels else ""
        return cls(
            f"CUDA out of memory{': ' + detail if detail else ''}; lower max_pixels {budget} "
            f"(e.g. --max-pixels {1280 * QWEN2_VL_FACTOR * QWEN2_VL_FACTOR}, about 1280 visual tokens per image) or send fewer chats per batch"
        )

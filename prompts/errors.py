"""Errors raised while building a prompt.

They sit under :class:`~vlagent.actions.errors.ProfileError` in vlagent's tree::

    ProfileError                   unknown profile or env family
    ├── TemplateError              a template file is missing or names an unknown placeholder
    └── PromptRequestError         a request a profile cannot build a chat from (no screenshot, ...)
"""

from __future__ import annotations

from vlagent.actions.errors import ProfileError


class TemplateError(ProfileError):
    """A packaged template is missing or uses a placeholder nobody fills.

    Example:
        >>> isinstance(TemplateError("missing"), ProfileError)
        True
    """


class PromptRequestError(ProfileError):
    """A :class:`~vlagent.prompts.request.PromptRequest` that cannot become a chat (no screenshot, ...).

    Example:
        >>> isinstance(PromptRequestError("no screenshot"), ProfileError)
        True
    """

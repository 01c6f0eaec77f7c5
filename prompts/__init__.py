"""Model profiles: prompt templates per env family, the profile registry and chat building.

Pick a profile by name and build the chat for one step::

    profile = get_profile("ui-tars-1.5")
    chat = profile.build_chat(PromptRequest(family="desktop", task=..., images=[screenshot]))
    parser = profile.make_parser()
"""

from vlagent.prompts.errors import PromptRequestError, TemplateError
from vlagent.prompts.profiles import PROFILES, ModelProfile, get_profile, profile_names, register_profile
from vlagent.prompts.request import HistoryEntry, PromptRequest

__all__ = [
    "PROFILES",
    "HistoryEntry",
    "ModelProfile",
    "PromptRequest",
    "PromptRequestError",
    "TemplateError",
    "get_profile",
    "profile_names",
    "register_profile",
]

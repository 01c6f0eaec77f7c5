"""Errors the trainer raises, all under :class:`~vlagent.actions.errors.VlagentError`.

The tree::

    TrainingError                a training run cannot start or go on
    ├── TrainingDataError        no usable samples, an unreadable trajectory, a reply too long to train on
    ├── CheckpointError          a checkpoint that does not match the run it would resume
    └── MissingTrainingExtra     peft (the ``train`` extra) is not installed but LoRA was asked for
"""

from __future__ import annotations

from vlagent.actions.errors import VlagentError


class TrainingError(VlagentError):
    """A training run cannot start or go on.

    Example:
        >>> isinstance(TrainingDataError("no samples"), TrainingError)
        True
    """


class TrainingDataError(TrainingError):
    """The data cannot become training samples (empty, unreadable, or not expressible in the profile).

    Example:
        >>> str(TrainingDataError("no samples in runs/"))
        'no samples in runs/'
    """


class CheckpointError(TrainingError):
    """A checkpoint that cannot be resumed by this run (another base model, LoRA vs full, a torn folder).

    Example:
        >>> CheckpointError("step-000010: no state.json").exit_code
        1
    """


class MissingTrainingExtra(TrainingError):
    """LoRA needs peft: ``pip install 'vlagent[train]'``.

    Example:
        >>> "vlagent[train]" in str(MissingTrainingExtra())
        True
    """

    def __init__(self) -> None:
        super().__init__("LoRA training needs peft: pip install 'vlagent[train]' (or pip install 'peft>=0.13')")

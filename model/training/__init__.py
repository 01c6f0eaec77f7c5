"""Fine-tuning Qwen2-VL on agent samples: encoding, the training loop, checkpoints, LoRA, export.

torch, transformers and peft are imported when a run starts, never when this package is imported::

    from vlagent.model.training import TrainConfig, Trainer
    result = Trainer(base, samples, "runs/train", TrainConfig(steps=200)).run()
    result.model_dir   # loads with TransformersBackend like any checkpoint

Samples come from :mod:`vlagent.agent.training_data` (trajectory folders, synthetic ground truth).
"""

from vlagent.model.training.encode import SampleEncoder
from vlagent.model.training.errors import (
    CheckpointError,
    MissingTrainingExtra,
    TrainingDataError,
    TrainingError,
)
from vlagent.model.training.export import export_model
from vlagent.model.training.lora import LANGUAGE_MODEL_PROJECTIONS
from vlagent.model.training.sample import TrainingSample
from vlagent.model.training.trainer import TrainConfig, Trainer, TrainResult

__all__ = [
    "LANGUAGE_MODEL_PROJECTIONS",
    "CheckpointError",
    "MissingTrainingExtra",
    "SampleEncoder",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingDataError",
    "TrainingError",
    "TrainingSample",
    "export_model",
]

"""StyleGAN2 generator, checkpoint loading and training."""

from .config import GeneratorConfig, MappingConfig, SynthesisConfig
from .errors import CheckpointError
from .loading import default_model_path, load_generator, read_checkpoint, save_generator
from .networks import Generator

__all__ = [
    "CheckpointError",
    "Generator",
    "GeneratorConfig",
    "MappingConfig",
    "SynthesisConfig",
    "default_model_path",
    "load_generator",
    "read_checkpoint",
    "save_generator",
]

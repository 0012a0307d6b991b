"""The conditional GAN library (plain PyTorch, no Kedro): networks, losses, training engine."""

from img2img.gan.config import TrainConfig, TrainingParameterError
from img2img.gan.engine import (
    NonFiniteLossError,
    Pix2PixTrainer,
    TrainResult,
    select_device,
    train_gan_model,
)
from img2img.gan.networks import build_discriminator, build_generator

__all__ = [
    "NonFiniteLossError",
    "Pix2PixTrainer",
    "TrainConfig",
    "TrainResult",
    "TrainingParameterError",
    "build_discriminator",
    "build_generator",
    "select_device",
    "train_gan_model",
]

"""Subprocess for the SIGKILL-resume test: trains, optionally hangs at the end of one epoch.

python resume_worker.py CHECKPOINT_DIR OUTPUT_WEIGHTS [HANG_AT_EPOCH READY_FILE]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from img2img.gan.config import TrainConfig
from img2img.gan.loop import TrainingInputs, train_gan_model

PARAMS = {
    "epochs": 2, "epochs_decay": 2, "batch_size": 2, "load_size": 36, "crop_size": 32,
    "generator": {"ngf": 4, "norm": "instance"}, "discriminator": {"ndf": 4, "n_layers": 2},
    "ema": {"enabled": True, "decay": 0.9}, "deterministic": True, "num_threads": 1,
    "checkpoint_every_epochs": 1, "seed": 7,
}  # fmt: skip


def data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    source = torch.randint(0, 256, (6, 3, 36, 36), dtype=torch.uint8, generator=generator)
    return source, 255 - source


class HangAt:
    def __init__(self, epoch: int, ready: Path) -> None:
        self.epoch, self.ready = epoch, ready

    def on_epoch_end(self, epoch, metrics, grid) -> None:
        if epoch == self.epoch:  # after training this epoch, before its checkpoint is written
            self.ready.write_text("ready")
            time.sleep(600)


def main() -> None:
    checkpoint_dir, output = Path(sys.argv[1]), Path(sys.argv[2])
    callbacks = HangAt(int(sys.argv[3]), Path(sys.argv[4])) if len(sys.argv) > 4 else None
    source, target = data()
    result = train_gan_model(
        TrainConfig.from_params(PARAMS),
        TrainingInputs(source, target, checkpoint_dir=checkpoint_dir, callbacks=callbacks),
    )
    torch.save(dict(result.generator.state_dict), output)


if __name__ == "__main__":
    main()

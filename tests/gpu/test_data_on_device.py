"""The training pairs kept on the GPU: training moves the uint8 caches there once when they fit,
and batches drawn from them there are the batches drawn on the CPU.

torch and the project are imported inside the tests (see conftest.py: skipping costs no import).
"""

from __future__ import annotations

import pytest

from tests.gpu.shared import DEVICES


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("load_size", [36, 40], ids=["as-cached", "resized"])
def test_batches_from_pairs_on_the_device_equal_the_batches_from_the_cpu(device, load_size):
    import torch

    from img2img.gan.data import iterate_batches
    from tests.gan.test_launcher import pairs

    source, target = pairs(7, size=36)  # 3 batches of 3, 3 and 1 pairs
    jitter = {"batch_size": 3, "load_size": load_size, "crop_size": 32, "flip": True, "seed": 5,
              "epoch": 2}  # fmt: skip
    on_cpu = list(iterate_batches(source, target, device=torch.device("cpu"), **jitter))
    here = torch.device(device)
    resident = list(iterate_batches(source.to(here), target.to(here), device=here, **jitter))
    assert [len(s) for s, _ in resident] == [len(s) for s, _ in on_cpu] == [3, 3, 1]
    for (got_source, got_target), (source_batch, target_batch) in zip(resident, on_cpu, strict=True):  # fmt: skip
        assert got_source.device.type == got_target.device.type == device
        # as cached: exactly; resized: the GPU's bicubic kernel may round in the last bit
        torch.testing.assert_close(got_source.cpu(), source_batch)
        torch.testing.assert_close(got_target.cpu(), target_batch)


@pytest.mark.parametrize("device", DEVICES)
def test_training_keeps_the_pairs_on_the_gpu_when_they_fit(device, tmp_path):
    import torch

    from img2img.gan.collectives import DistributedContext
    from img2img.gan.config import TrainConfig
    from img2img.gan.loop import TrainingInputs, _start
    from tests.gan.test_loop import TINY, pairs

    inputs = TrainingInputs(*pairs(4), checkpoint_dir=tmp_path)
    config = TrainConfig.from_params({**TINY, "epochs": 1, "epochs_decay": 0})
    run = _start(config, inputs, DistributedContext(), torch.device(device), budget=None)
    run.progress.close()
    assert run.source.device.type == run.target.device.type == device
    assert torch.equal(run.source.cpu(), inputs.source) and torch.equal(
        run.target.cpu(), inputs.target
    )

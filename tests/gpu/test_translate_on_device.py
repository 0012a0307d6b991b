"""Serving on a GPU: ``load_translator(..., device="cuda")`` translates as on the CPU, and ONNX
Runtime's CUDA execution provider (where the onnxruntime-gpu package provides it) answers as the
eager generator.

torch and the project are imported inside the tests (see conftest.py: skipping costs no import).
"""

from __future__ import annotations

import logging

import pytest

from tests.gpu.shared import DEVICES


def levels_apart(got, expected):
    """|difference| of two uint8 image arrays, in levels."""
    import numpy as np

    return np.abs(got.astype(int) - expected.astype(int))


@pytest.mark.parametrize("device", DEVICES)
def test_load_translator_on_the_device_translates_as_on_the_cpu(device, tmp_path, monkeypatch, caplog):  # fmt: skip
    import numpy as np
    import torch

    import img2img.inference.runtime as runtime
    from img2img.inference.model import load_translator
    from tests.inference.test_runtime import export_tiny_generator

    _, script = export_tiny_generator(tmp_path)
    monkeypatch.setenv(runtime.PATH_ENV, runtime.REFERENCE)  # the CPU's reference: the export
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((3, 45, 70, 3), (4, 64, 96, 3))]  # fmt: skip
    on_cpu = load_translator(script, "cpu")
    with caplog.at_level(logging.INFO, logger=runtime.__name__):
        translator = load_translator(script, device)
    assert f"Generator runs on {device}" in caplog.text
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for batch in images:
        translated, expected = translator(batch), on_cpu(batch)
        assert translated.shape == batch.shape and translated.dtype == np.uint8
        levels = levels_apart(translated, expected)
        # cuDNN convolutions in TF32 (its default) round a little: at most a few values 1 level off
        assert levels.max() <= 2 and (levels <= 1).mean() >= 0.99
    if device == "cuda":  # the activations of the forward passes were on the GPU
        assert torch.cuda.max_memory_allocated() > torch.cuda.memory_allocated()


@pytest.mark.parametrize(
    "provider",
    ["CPUExecutionProvider", pytest.param("CUDAExecutionProvider", marks=pytest.mark.gpu)],
)
def test_onnx_runtime_on_the_execution_provider_answers_as_the_eager_generator(provider, tmp_path):
    import onnxruntime
    import torch

    from img2img.inference.model import deployable_generator
    from img2img.inference.runtime import OnnxRuntimeModule, Parity, probe_batch
    from tests.inference.test_runtime import export_tiny_generator

    if provider not in onnxruntime.get_available_providers():
        pytest.skip(f"onnxruntime {onnxruntime.__version__} has no {provider} (for CUDA install "
                    "onnxruntime-gpu in place of onnxruntime)")  # fmt: skip
    artifact, script = export_tiny_generator(tmp_path)
    module = OnnxRuntimeModule(str(script.with_name("generator.onnx")), providers=[provider])
    probe = probe_batch(artifact.size_multiple)
    got = module(probe)
    # ONNX Runtime falls back to the CPU, silently, where a provider cannot start
    assert module.session.get_providers()[0] == provider
    with torch.no_grad():
        parity = Parity.between(got, deployable_generator(artifact)(probe))
    if provider == "CPUExecutionProvider":
        assert parity.max_abs_float <= 1e-4
    else:  # TF32 convolutions, ONNX Runtime's CUDA default
        assert parity.max_levels <= 2 and parity.within_one_level >= 0.99

"""Process-level tuning: the glibc allocator setting, memory formats per device."""

from __future__ import annotations

import platform

import pytest
import torch

from img2img.gan import runtime
from img2img.gan.runtime import memory_formats


def test_keep_freed_memory_sets_and_restores_glibc_options(monkeypatch):
    calls = []

    class FakeLibc:
        def mallopt(self, option, value):
            calls.append((option, value))
            return 1

        def malloc_trim(self, pad):
            calls.append(("trim", pad))
            return 1

    monkeypatch.setattr(runtime, "_glibc", FakeLibc)
    with runtime.keep_freed_memory() as active:
        assert active is True
        assert calls == [(runtime.M_MMAP_MAX, 0), (runtime.M_TRIM_THRESHOLD, 2**31 - 1)]
    assert calls[2:] == [
        (runtime.M_MMAP_MAX, runtime.DEFAULT_MMAP_MAX),
        (runtime.M_TRIM_THRESHOLD, runtime.DEFAULT_TRIM_THRESHOLD),
        ("trim", 0),
    ]


def test_keep_freed_memory_restores_on_error_and_can_be_disabled(monkeypatch):
    calls = []

    class FakeLibc:
        def mallopt(self, option, value):
            calls.append(option)
            return 1

        def malloc_trim(self, pad):
            calls.append("trim")

    monkeypatch.setattr(runtime, "_glibc", FakeLibc)
    with pytest.raises(KeyError), runtime.keep_freed_memory():
        raise KeyError("boom")
    assert calls[-1] == "trim"
    calls.clear()
    with runtime.keep_freed_memory(enabled=False) as active:
        assert active is False
    assert calls == []


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_keep_freed_memory_really_works_on_glibc():
    with runtime.keep_freed_memory() as active:
        assert active is True
        assert torch.ones(4_000_000).sum().item() == 4_000_000


def test_memory_formats():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert memory_formats("auto", cpu) == (False, True)  # measured: D gains on CPU, G loses
    assert memory_formats("auto", cuda) == (True, True)
    assert memory_formats(False, cuda) == (False, False)
    assert memory_formats(True, cpu) == (True, True)


@pytest.mark.parametrize(
    ("units", "amp", "expected"),
    [
        (
            {"_is_amx_tile_supported": True, "_is_avx512_bf16_supported": True},
            "auto",
            torch.bfloat16,
        ),
        (
            {"_is_amx_tile_supported": False, "_is_avx512_bf16_supported": True},
            True,
            torch.bfloat16,
        ),
        ({"_is_amx_tile_supported": False, "_is_avx512_bf16_supported": False}, "auto", None),
        (
            {"_is_amx_tile_supported": False, "_is_avx512_bf16_supported": False},
            "bf16",
            torch.bfloat16,
        ),
        ({"_is_amx_tile_supported": True, "_is_avx512_bf16_supported": True}, "fp32", None),
        ({"_is_amx_tile_supported": True, "_is_avx512_bf16_supported": True}, False, None),
    ],
)
def test_cpu_autocast_is_bf16_only_where_the_cpu_has_bf16_units(monkeypatch, units, amp, expected):
    for probe, supported in units.items():
        monkeypatch.setattr(torch.cpu, probe, lambda supported=supported: supported, raising=False)
    assert runtime.amp_dtype(amp, torch.device("cpu")) == expected
    path = runtime.precision_path(expected, torch.device("cpu"))
    assert path.startswith("bf16 autocast on cpu (" if expected else "fp32 on cpu (")
    assert ("AMX-BF16" in path) == units["_is_amx_tile_supported"]
    assert torch.backends.cpu.get_cpu_capability() in path


def test_a_bf16_step_on_the_cpu_keeps_fp32_weights_and_says_so():
    from img2img.gan.config import TrainConfig
    from img2img.gan.trainer import Pix2PixTrainer

    config = TrainConfig.from_params({"amp": "bf16", "load_size": 32, "crop_size": 32, "num_threads": 1,
                                      "generator": {"ngf": 8}, "discriminator": {"ndf": 8, "n_layers": 2}})  # fmt: skip
    trainer = Pix2PixTrainer(config, torch.device("cpu"))
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    source, target = (torch.rand(2, 3, 32, 32) * 2 - 1 for _ in range(2))
    losses = trainer.train_step(source, target)
    assert losses is not None and all(torch.isfinite(torch.tensor(list(losses.values()))))
    after = trainer.generator.state_dict()
    assert all(v.dtype == before[k].dtype for k, v in after.items())  # master weights stay fp32
    assert any(not torch.equal(v, before[k]) for k, v in after.items() if v.is_floating_point())
    assert trainer.describe()["precision"].startswith("bf16 autocast on cpu")

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

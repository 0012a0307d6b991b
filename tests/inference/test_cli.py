"""`img2img translate`: its exit status, summary line and reasons (a stand-in model, no training)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

import img2img.inference.model as model
from img2img.cli import main
from img2img.ingest.images import ImageLimits
from tests.conftest import random_rgb, save_image


@pytest.fixture
def translate(monkeypatch, tmp_path):
    """Runs `img2img translate INPUTS --model stub --output tmp/out [OPTIONS]` with an inverting
    model; the arguments it was loaded with are recorded in ``translate.loaded``."""
    loaded: list[tuple] = []

    def fake_load(uri, device, batch_size):
        loaded.append((uri, device, batch_size))
        return lambda batch: 255 - batch

    monkeypatch.setattr(model, "load_translator", fake_load)

    def run(*inputs: Path, options: tuple[str, ...] = ()):
        args = [
            "translate",
            *map(str, inputs),
            "--model",
            "stub",
            "--output",
            str(tmp_path / "out"),
        ]
        return CliRunner().invoke(main, [*args, "--device", "cpu", *options])

    run.loaded = loaded
    return run


def test_all_translated_then_all_skipped_both_exit_0(translate, tmp_path):
    save_image(tmp_path / "in" / "a.png", random_rgb(0, 16, 16))
    save_image(tmp_path / "in" / "sub" / "b.jpg", random_rgb(1, 16, 24))
    first = translate(tmp_path / "in")
    assert first.exit_code == 0, first.output
    assert f"2 translated, 0 skipped, 0 failed -> {tmp_path / 'out'}" in first.stdout
    again = translate(tmp_path / "in")
    assert again.exit_code == 0, again.output
    assert "0 translated, 2 skipped, 0 failed" in again.stdout
    assert "skipped:" in again.stderr and "output exists" in again.stderr


def test_a_missing_input_path_exits_1_even_when_the_rest_is_translated(translate, tmp_path):
    save_image(tmp_path / "in" / "a.png", random_rgb(0, 16, 16))
    result = translate(tmp_path / "in", tmp_path / "nope")
    assert result.exit_code == 1
    assert "1 translated, 0 skipped, 1 failed" in result.stdout
    assert f"failed: {tmp_path / 'nope'}: no such file or folder" in result.stderr


def test_an_unreadable_input_exits_1(translate, tmp_path):
    save_image(tmp_path / "in" / "a.png", random_rgb(0, 16, 16))
    (tmp_path / "in" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    result = translate(tmp_path / "in")
    assert result.exit_code == 1
    assert "1 translated, 0 skipped, 1 failed" in result.stdout
    assert "corrupt.jpg" in result.stderr


def test_clashing_names_exit_1_and_are_explained(translate, tmp_path):
    save_image(tmp_path / "in" / "clash.jpg", random_rgb(0, 16, 16))
    save_image(tmp_path / "in" / "clash.png", random_rgb(1, 16, 16))
    result = translate(tmp_path / "in")
    assert result.exit_code == 1
    assert "0 translated, 0 skipped, 2 failed" in result.stdout
    assert result.stderr.count("output name clash") == 2
    assert not (tmp_path / "out" / "clash.png").exists()


def test_max_pixels_is_applied_and_named_in_the_reason(translate, tmp_path):
    save_image(tmp_path / "in" / "big.png", random_rgb(0, 10, 10))
    result = translate(tmp_path / "in", options=("--max-pixels", "99"))
    assert result.exit_code == 1
    assert "--max-pixels=99" in result.stderr
    assert translate(tmp_path / "in", options=("--max-pixels", "100")).exit_code == 0


def test_help_shows_the_ingestion_pixel_default_and_the_exit_statuses():
    help_text = CliRunner().invoke(main, ["translate", "--help"]).output
    assert f"default: {ImageLimits().max_pixels};" in help_text
    assert "Exit status:" in help_text and "usage error" in help_text


def test_usage_errors_exit_2(translate, tmp_path):
    save_image(tmp_path / "in" / "a.png", random_rgb(0, 16, 16))
    assert translate(tmp_path / "in", options=("--batch-size", "0")).exit_code == 2
    assert translate(tmp_path / "in", options=("--max-pixels", "0")).exit_code == 2
    no_output = CliRunner().invoke(main, ["translate", str(tmp_path / "in"), "--model", "m"])
    assert no_output.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_a_model_that_cannot_be_loaded_exits_1(tmp_path):
    save_image(tmp_path / "in" / "a.png", random_rgb(0, 16, 16))
    args = ["translate", str(tmp_path / "in"), "--model", str(tmp_path / "nope.pt"),
            "--output", str(tmp_path / "out"), "--device", "cpu"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "no such model file" in result.output


def test_outputs_get_umask_modes_and_the_model_gets_the_batch_size(translate, tmp_path):
    save_image(tmp_path / "in" / "a.png", random_rgb(0, 16, 16))
    previous = os.umask(0o022)
    try:
        assert translate(tmp_path / "in", options=("--batch-size", "3")).exit_code == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out" / "a.png").stat().st_mode) == 0o644
    assert translate.loaded == [("stub", "cpu", 3)]


KILLED_TRANSLATE = """
import sys, time
import img2img.inference.model as model
from img2img.cli import main

def slow(batch):
    time.sleep(float(sys.argv[1]))
    return 255 - batch

model.load_translator = lambda uri, device, batch_size: slow
main(["translate", sys.argv[2], "--model", "stub", "--output", sys.argv[3], "--batch-size", "1"])
"""


def test_a_killed_translate_leaves_nothing_once_rerun(tmp_path):
    import signal
    import subprocess
    import sys

    from tests.servers import wait_for_file

    for index in range(3):
        save_image(tmp_path / "in" / f"{index}.png", random_rgb(index, 16, 16))
    out = tmp_path / "out"
    command = [sys.executable, "-c", KILLED_TRANSLATE]
    slow = subprocess.Popen([*command, "30", str(tmp_path / "in"), str(out)])
    try:
        wait_for_file(out / ".img2img-tmp", slow, timeout=60)  # running, scratch in use
    finally:
        slow.send_signal(signal.SIGKILL)
        slow.wait(timeout=30)
    assert any((out / ".img2img-tmp").iterdir())  # what the kill left
    rerun = subprocess.run([*command, "0", str(tmp_path / "in"), str(out)], capture_output=True)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png", "2.png"]

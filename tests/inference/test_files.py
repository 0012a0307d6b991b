"""translate_files: output names never clash, inputs stream batch by batch, nothing is lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import img2img.inference.files as files
from img2img.inference.files import translate_files
from img2img.ingest.images import ImageLimits
from tests.conftest import random_rgb, save_image


def invert(batch: np.ndarray) -> np.ndarray:
    """A stand-in model: cheap, and its output is checkable."""
    return 255 - batch


def by_input(outcomes) -> dict[str, files.Outcome]:
    return {Path(o.input).name: o for o in outcomes}


def test_outputs_keep_relative_folders_and_the_translation(tmp_path):
    image = random_rgb(0, 20, 30)
    save_image(tmp_path / "in" / "top.png", image)
    save_image(tmp_path / "in" / "sub" / "deep" / "nested.jpg", random_rgb(1, 16, 16))
    outcomes = translate_files([tmp_path / "in"], invert, tmp_path / "out")
    assert [o.status for o in outcomes] == ["translated", "translated"]
    assert (tmp_path / "out" / "sub" / "deep" / "nested.png").is_file()
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "top.png")), 255 - image)


def test_names_that_clash_in_one_folder_are_refused_before_translating(tmp_path):
    save_image(tmp_path / "in" / "clash.jpg", random_rgb(0, 16, 16))
    save_image(tmp_path / "in" / "clash.png", random_rgb(1, 16, 16))
    save_image(tmp_path / "in" / "fine.png", random_rgb(2, 16, 16))
    calls: list[int] = []

    def recording(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        return invert(batch)

    outcomes = by_input(translate_files([tmp_path / "in"], recording, tmp_path / "out"))
    assert outcomes["fine.png"].status == "translated" and calls == [1]
    for name in ("clash.jpg", "clash.png"):
        assert outcomes[name].status == "failed" and outcomes[name].output is None
        reason = outcomes[name].reason
        assert "clash.jpg" in reason and "clash.png" in reason
        assert str(tmp_path / "out" / "clash.png") in reason
    assert not (tmp_path / "out" / "clash.png").exists()


def test_the_same_relative_name_under_two_roots_is_refused(tmp_path):
    save_image(tmp_path / "d1" / "same.png", random_rgb(0, 16, 16))
    save_image(tmp_path / "d2" / "same.png", random_rgb(1, 16, 16))
    save_image(tmp_path / "d2" / "other" / "same.png", random_rgb(2, 16, 16))
    outcomes = translate_files([tmp_path / "d1", tmp_path / "d2"], invert, tmp_path / "out")
    statuses = {o.input: o.status for o in outcomes}
    assert statuses == {
        str(tmp_path / "d1" / "same.png"): "failed",
        str(tmp_path / "d2" / "same.png"): "failed",
        str(tmp_path / "d2" / "other" / "same.png"): "translated",
    }
    failed = [o for o in outcomes if o.status == "failed"]
    assert all(str(tmp_path / "d1" / "same.png") in o.reason for o in failed)
    assert all(str(tmp_path / "d2" / "same.png") in o.reason for o in failed)
    assert not (tmp_path / "out" / "same.png").exists()


def test_a_file_reached_twice_is_translated_once(tmp_path):
    save_image(tmp_path / "in" / "a.png", random_rgb(0, 16, 16))
    file = tmp_path / "in" / "a.png"
    twice = [file, tmp_path / "in" / ".." / "in" / "a.png", tmp_path / "in"]
    outcomes = translate_files(twice, invert, tmp_path / "out")
    assert [(o.input, o.status) for o in outcomes] == [(str(file), "translated")]


def test_an_output_never_replaces_its_own_input(tmp_path):
    original = save_image(tmp_path / "a.png", random_rgb(0, 16, 16)).read_bytes()
    outcomes = translate_files([tmp_path], invert, tmp_path, overwrite=True)
    assert [o.status for o in outcomes] == ["failed"]
    assert "replace the input itself" in outcomes[0].reason
    assert (tmp_path / "a.png").read_bytes() == original


def test_an_output_folder_inside_the_input_folder_is_not_read(tmp_path):
    save_image(tmp_path / "in" / "a.png", random_rgb(0, 16, 16))
    translate_files([tmp_path / "in"], invert, tmp_path / "in" / "out")
    again = translate_files([tmp_path / "in"], invert, tmp_path / "in" / "out")
    assert [(Path(o.input).name, o.status) for o in again] == [("a.png", "skipped")]
    assert not (tmp_path / "in" / "out" / "out").exists()


def test_missing_inputs_and_folders_without_images_are_failures(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no image here")
    outcomes = translate_files([tmp_path / "nope", tmp_path / "empty"], invert, tmp_path / "out")
    assert {(Path(o.input).name, o.status, o.reason) for o in outcomes} == {
        ("nope", "failed", "no such file or folder"),
        ("empty", "failed", "no image files in the folder"),
    }


def test_a_failed_write_is_reported_and_the_rest_still_written(tmp_path):
    save_image(tmp_path / "in" / "a.png", random_rgb(0, 16, 16))
    save_image(tmp_path / "in" / "b.png", random_rgb(1, 16, 16))
    (tmp_path / "out" / "a.png").mkdir(parents=True)  # a folder where the output should go
    outcomes = by_input(
        translate_files([tmp_path / "in"], invert, tmp_path / "out", overwrite=True)
    )
    assert outcomes["a.png"].status == "failed" and "cannot write" in outcomes["a.png"].reason
    assert outcomes["b.png"].status == "translated" and (tmp_path / "out" / "b.png").is_file()


def test_the_pixel_limit_is_applied_and_named_as_the_caller_says(tmp_path):
    save_image(tmp_path / "in" / "big.png", random_rgb(0, 10, 10))
    save_image(tmp_path / "in" / "small.png", random_rgb(1, 5, 5))
    limits = ImageLimits(min_size=1, max_pixels=50)
    outcomes = translate_files([tmp_path / "in"], invert, tmp_path / "out", limits=limits,
                               pixel_limit_name="--max-pixels")  # fmt: skip
    result = by_input(outcomes)
    assert result["small.png"].status == "translated"
    assert result["big.png"].status == "failed"
    assert "--max-pixels=50" in result["big.png"].reason
    assert "data_processing" not in result["big.png"].reason


def test_tiny_images_are_accepted_by_default(tmp_path):
    save_image(tmp_path / "in" / "dot.png", random_rgb(0, 1, 1))
    outcomes = translate_files([tmp_path / "in"], invert, tmp_path / "out")
    assert [o.status for o in outcomes] == ["translated"]


@pytest.fixture
def decode_counter(monkeypatch):
    """Counts the images decoded so far (load_rgb wrapped)."""
    decoded = [0]
    real = files.load_rgb

    def counting(path, limits):
        image = real(path, limits)
        decoded[0] += 1
        return image

    monkeypatch.setattr(files, "load_rgb", counting)
    return decoded


def test_inputs_are_decoded_batch_by_batch_not_all_first(tmp_path, decode_counter):
    for index in range(7):
        save_image(tmp_path / "in" / f"{index}.png", random_rgb(index, 12, 12))
    held: list[int] = []  # decoded but not yet translated, at each model call
    translated = [0]

    def recording(batch: np.ndarray) -> np.ndarray:
        held.append(decode_counter[0] - translated[0])
        translated[0] += len(batch)
        return invert(batch)

    outcomes = translate_files([tmp_path / "in"], recording, tmp_path / "out", batch_size=3)
    assert [o.status for o in outcomes] == ["translated"] * 7
    assert held == [3, 3, 1]  # the first call came after 3 decodes, not 7


def test_a_shape_change_closes_the_batch_without_holding_more(tmp_path, decode_counter):
    shapes = [(12, 12), (12, 12), (8, 10), (12, 12), (12, 12), (12, 12)]
    for index, (height, width) in enumerate(shapes):
        save_image(tmp_path / "in" / f"{index}.png", random_rgb(index, height, width))
    batches: list[tuple[int, ...]] = []
    decoded_at_call: list[int] = []

    def recording(batch: np.ndarray) -> np.ndarray:
        batches.append(batch.shape[:3])
        decoded_at_call.append(decode_counter[0])
        return invert(batch)

    translate_files([tmp_path / "in"], recording, tmp_path / "out", batch_size=2)
    assert batches == [(2, 12, 12), (1, 8, 10), (2, 12, 12), (1, 12, 12)]
    assert decoded_at_call == [2, 4, 5, 6]  # never more than batch_size images decoded unsent
    for index, (height, width) in enumerate(shapes):
        assert Image.open(tmp_path / "out" / f"{index}.png").size == (width, height)

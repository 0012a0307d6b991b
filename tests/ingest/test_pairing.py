"""Layouts, validation and the bad-input fixture set: every bad input is recorded with a reason."""

from __future__ import annotations

import random
import shutil

import numpy as np
import pandas as pd
import pytest

from img2img.ingest.images import ImageLimits
from img2img.ingest.layouts import (
    PathEscapesRoot,
    ScanResult,
    resolve_inside,
    scan_aligned,
    scan_folders,
    scan_manifest,
)
from img2img.ingest.pairing import NoValidPairsError, validate_candidates
from tests.conftest import random_rgb, save_aligned, save_image

LIMITS = ImageLimits(min_size=16, max_pixels=200_000)


def reasons(rejected: pd.DataFrame) -> dict[str, str]:
    return dict(zip(rejected["path"], rejected["reason"], strict=True))


def why_of(rejected: pd.DataFrame, path_end: str) -> str:
    """The one rejection reason whose path ends with ``path_end``."""
    found = [r for p, r in zip(rejected["path"], rejected["reason"], strict=True)
             if p.endswith(path_end)]  # fmt: skip
    assert len(found) == 1, (path_end, found)
    return found[0]


@pytest.fixture
def bad_aligned(tmp_path):
    """An aligned dataset with one good pair per split plus one file per failure mode."""
    root = tmp_path / "ds"
    for split, seed in (("train", 0), ("train", 1), ("val", 2), ("test", 3)):
        save_aligned(root / split / f"good{seed}.png", seed)
    (root / "train" / "empty.jpg").write_bytes(b"")
    (root / "train" / "text.png").write_text("hello")
    good = (root / "train" / "good0.png").read_bytes()
    (root / "train" / "truncated.png").write_bytes(good[: len(good) // 3])
    save_aligned(root / "train" / "tiny.png", 9, size=8)
    save_image(root / "train" / "bomb.png", np.zeros((400, 1000, 3), dtype=np.uint8))
    shutil.copy(root / "train" / "good1.png", root / "test" / "copy_of_good1.png")
    (root / "notes.txt").write_text("a readme next to the images")
    return root


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's, for bomb.png
def test_aligned_good_pairs_and_every_rejection_reason(bad_aligned):
    scan = scan_aligned(bad_aligned, "AtoB")
    pairs, rejected = validate_candidates(bad_aligned, scan, LIMITS, path_prefix="ds")
    assert sorted(pairs["pair_id"]) == ["test/good3", "train/good0", "train/good1", "val/good2"]
    assert dict(zip(pairs["pair_id"], pairs["split"], strict=True))["val/good2"] == "val"
    why = reasons(rejected)
    assert "empty file" in why["ds/train/empty.jpg"]
    assert "not an image" in why["ds/train/text.png"]
    assert "truncated" in why["ds/train/truncated.png"]
    assert "min_size" in why["ds/train/tiny.png"]
    assert "above data_processing.validation.max_pixels=200000" in why["ds/train/bomb.png"]
    assert "duplicate pair" in why["ds/test/copy_of_good1.png"]
    assert "train/good1" in why["ds/test/copy_of_good1.png"]  # the training copy is kept
    assert "not an image type" in why["ds/notes.txt"]
    # nothing is lost: every file is either a pair or a rejection
    assert len(pairs) + len(rejected) == 11


def test_aligned_direction_picks_the_half(tmp_path):
    save_aligned(tmp_path / "a.png", 5)
    for direction, region in (("AtoB", "left"), ("BtoA", "right")):
        pairs, _ = validate_candidates(tmp_path, scan_aligned(tmp_path, direction), LIMITS)
        assert pairs.loc[0, "source_region"] == region
    a_to_b, _ = validate_candidates(tmp_path, scan_aligned(tmp_path, "AtoB"), LIMITS)
    b_to_a, _ = validate_candidates(tmp_path, scan_aligned(tmp_path, "BtoA"), LIMITS)
    assert a_to_b.loc[0, "source_sha256"] == b_to_a.loc[0, "target_sha256"]
    assert a_to_b.loc[0, "width"] == 48 and a_to_b.loc[0, "height"] == 48


def test_folders_layout_pairs_by_stem_and_reports_problems(tmp_path):
    root = tmp_path / "ds"
    for offset, split in enumerate(("train", "val")):
        for i in range(2):
            save_image(root / "A" / split / f"{split}{i}.png", random_rgb(100 * offset + i))
            save_image(root / "B" / split / f"{split}{i}.jpg", random_rgb(100 * offset + i + 10))
    save_image(root / "A" / "train" / "lonely.png", random_rgb(20))
    save_image(root / "B" / "train" / "orphan.png", random_rgb(21))
    save_image(root / "A" / "train" / "wide.png", random_rgb(22, 48, 64))
    save_image(root / "B" / "train" / "wide.png", random_rgb(23, 48, 48))
    save_image(root / "A" / "train" / "twice.png", random_rgb(24))
    save_image(root / "A" / "train" / "twice.jpg", random_rgb(25))
    save_image(root / "B" / "train" / "twice.png", random_rgb(26))
    scan = scan_folders(root, "A", "B")
    pairs, rejected = validate_candidates(root, scan, LIMITS)
    assert sorted(pairs["pair_id"]) == ["train/train0", "train/train1", "val/val0", "val/val1"]
    assert set(pairs["split"]) == {"train", "val"}
    why = reasons(rejected)
    assert "missing partner" in why["A/train/lonely.png"]
    assert "missing partner" in why["B/train/orphan.png"]
    assert "size mismatch" in why["A/train/wide.png"]
    assert "ambiguous" in why["A/train/twice.png"] and "ambiguous" in why["A/train/twice.jpg"]
    assert "partner is ambiguous" in why["B/train/twice.png"]
    # nothing silently dropped: 2 files per pair, one rejection per bad file (the wide pair: 1 for 2)
    assert 2 * len(pairs) + len(rejected) + 1 == scan.scanned_files
    resized, _ = validate_candidates(root, scan, LIMITS, size_mismatch="resize")
    assert "train/wide" in set(resized["pair_id"])


def test_folders_layout_needs_both_folders(tmp_path):
    save_image(tmp_path / "A" / "x.png", random_rgb(0))
    with pytest.raises(FileNotFoundError, match="'B/'"):
        scan_folders(tmp_path, "A", "B")


def test_manifest_layout_and_escapes(tmp_path):
    root = tmp_path / "ds"
    outside = save_image(tmp_path / "outside.png", random_rgb(9))
    save_image(root / "src" / "a.png", random_rgb(1))
    save_image(root / "dst" / "a.png", random_rgb(2))
    save_image(root / "src" / "b.png", random_rgb(3))
    save_image(root / "dst" / "b.png", random_rgb(4))
    (root / "src" / "link.png").symlink_to(outside)
    rows = [
        ("src/a.png", "dst/a.png", "train"),
        ("src/b.png", str(root / "dst" / "b.png"), "test"),  # absolute inside the root: fine
        ("../outside.png", "dst/a.png", ""),
        (str(outside), "dst/a.png", ""),
        ("src/link.png", "dst/a.png", ""),
        ("src/missing.png", "dst/a.png", ""),
        ("src/a.png", "dst/b.png", "holdout"),
    ]
    pd.DataFrame(rows, columns=["source", "target", "split"]).to_csv(root / "m.csv", index=False)
    scan = scan_manifest(root, "m.csv")
    pairs, rejected = validate_candidates(root, scan, LIMITS)
    assert list(pairs["split"]) == ["train", "test"]
    rejected_reasons = list(rejected["reason"])
    assert sum("path escapes the data root: refused" in r for r in rejected_reasons) == 2
    assert why_of(rejected, "src/link.png") == "symlink points outside the data root: refused"
    assert any("file not found" in r for r in rejected_reasons)
    assert any("unknown split 'holdout'" in r for r in rejected_reasons)
    assert all(":" in p for p in rejected["path"])  # rows are named by manifest line


def test_manifest_missing_columns_is_an_error_naming_the_file(tmp_path):
    (tmp_path / "m.csv").write_text("input,output\na.png,b.png\n")
    with pytest.raises(ValueError, match=r"m\.csv.*missing \['source', 'target'\]"):
        scan_manifest(tmp_path, "m.csv")


def test_symlink_escaping_root_is_refused_in_folder_scan(tmp_path):
    root = tmp_path / "ds"
    save_aligned(root / "ok.png", 1)
    outside = save_aligned(tmp_path / "secret.png", 2)
    (root / "link.png").symlink_to(outside)
    scan = scan_aligned(root, "AtoB")
    assert [c.pair_id for c in scan.candidates] == ["ok"]
    assert scan.rejected == [{"path": "link.png", "reason": "symlink points outside the data root"}]
    with pytest.raises(PathEscapesRoot):
        resolve_inside(root, "../secret.png")


def test_folders_partner_of_a_refused_symlink_says_so(tmp_path):
    root = tmp_path / "ds"
    outside = save_image(tmp_path / "outside" / "x.png", random_rgb(8))
    save_image(root / "A" / "ok.png", random_rgb(1))
    save_image(root / "B" / "ok.png", random_rgb(2))
    save_image(root / "A" / "x.png", random_rgb(3))
    (root / "B" / "x.png").symlink_to(outside)  # the target side is a symlink out of the root
    (root / "A" / "linked").symlink_to(outside.parent, target_is_directory=True)
    save_image(root / "B" / "linked" / "x.png", random_rgb(4))
    save_image(root / "A" / "notes.png", random_rgb(5))
    (root / "B" / "notes.txt").write_text("not an image")
    save_image(root / "A" / "lonely.png", random_rgb(6))
    scan = scan_folders(root, "A", "B")
    assert [c.pair_id for c in scan.candidates] == ["ok"]
    why = {r["path"]: r["reason"] for r in scan.rejected}
    assert why == {
        "B/x.png": "symlink points outside the data root",
        "A/x.png": "partner refused: B/x.png: symlink points outside the data root",
        "A/linked": "symlinked directory: not followed",
        "B/linked/x.png": "partner refused: A/linked: symlinked directory: not followed",
        "B/notes.txt": "skipped: extension '.txt' is not an image type",
        "A/notes.png": "partner refused: B/notes.txt: skipped: extension '.txt' is not an image type",
        "A/lonely.png": "missing partner: no file named 'lonely.*' in 'B/'",
    }
    # and the other way round: the source side is the refused symlink
    (root / "A" / "y.png").symlink_to(outside)
    save_image(root / "B" / "y.png", random_rgb(7))
    why = {r["path"]: r["reason"] for r in scan_folders(root, "A", "B").rejected}
    assert why["B/y.png"] == "partner refused: A/y.png: symlink points outside the data root"


def test_manifest_pair_ids_do_not_depend_on_row_order(tmp_path):
    for i in range(3):
        save_image(tmp_path / "s" / f"x.{('png', 'bmp', 'tif')[i]}", random_rgb(i))
        save_image(tmp_path / "t" / f"{i}.png", random_rgb(10 + i))
    rows = [(f"s/x.{ext}", f"t/{i}.png") for i, ext in enumerate(("png", "bmp", "tif"))]
    ids = []
    for order in (rows, rows[::-1], [rows[1], rows[2], rows[0]]):
        pd.DataFrame(order, columns=["source", "target"]).to_csv(tmp_path / "m.csv", index=False)
        scan = scan_manifest(tmp_path, "m.csv")
        ids.append(sorted((c.pair_id, c.source.relpath) for c in scan.candidates))
    assert ids[0] == [("s/x", "s/x.bmp"), ("s/x~2", "s/x.png"), ("s/x~3", "s/x.tif")]
    assert ids[1] == ids[0] and ids[2] == ids[0]


def test_kept_duplicate_follows_the_stated_rule_not_the_listing_order(tmp_path):
    for name in ("c.png", "B.png", "a.png", "d.png"):  # four copies of one pair, none in a split
        save_aligned(tmp_path / "ds" / name, 1)
    save_aligned(tmp_path / "ds" / "other.png", 2)
    scan = scan_aligned(tmp_path / "ds", "AtoB")
    results = []
    for seed in range(4):
        shuffled = list(scan.candidates)
        random.Random(seed).shuffle(shuffled)
        listed = ScanResult(candidates=shuffled, scanned_files=scan.scanned_files)
        pairs, rejected = validate_candidates(tmp_path / "ds", listed, LIMITS, workers=1)
        results.append((list(pairs["pair_id"]), reasons(rejected)))
    assert all(result == results[0] for result in results)
    assert results[0][0] == ["B", "other"]  # 'B' < 'a' < 'c' < 'd' (character order)
    assert sorted(results[0][1]) == ["a.png", "c.png", "d.png"]
    for reason in results[0][1].values():
        assert reason == (
            "duplicate pair: same pixels as the kept pair 'B' (B.png -> B.png); the pair kept is "
            "the first by split (train, val, test, none), then source path, then target path "
            "(character order)"
        )


def test_kept_manifest_duplicate_does_not_depend_on_row_order(tmp_path):
    pixels = random_rgb(1)
    save_image(tmp_path / "s" / "x.png", pixels)
    save_image(tmp_path / "s" / "x.bmp", pixels)  # same pixels, another file
    save_image(tmp_path / "t" / "1.png", random_rgb(2))
    save_image(tmp_path / "t" / "2.png", random_rgb(2))
    rows = [("s/x.png", "t/1.png"), ("s/x.bmp", "t/2.png")]
    for order in (rows, rows[::-1]):
        pd.DataFrame(order, columns=["source", "target"]).to_csv(tmp_path / "m.csv", index=False)
        pairs, rejected = validate_candidates(tmp_path, scan_manifest(tmp_path, "m.csv"), LIMITS)
        assert list(zip(pairs["pair_id"], pairs["source_path"], strict=True)) == [
            ("s/x", "s/x.bmp")
        ]
        assert list(rejected["path"]) == ["s/x.png"]
        assert "kept pair 's/x' (s/x.bmp -> t/2.png)" in rejected.loc[0, "reason"]


def test_no_valid_pair_explains_every_rejection(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "b.png").write_text("nope")
    with pytest.raises(NoValidPairsError) as info:
        validate_candidates(tmp_path, scan_aligned(tmp_path, "AtoB"), LIMITS)
    message = str(info.value)
    assert "Scanned 2 image file(s)" in message
    assert "a.jpg: empty file" in message and "b.png: not an image" in message


def test_empty_folder_says_so(tmp_path):
    with pytest.raises(NoValidPairsError, match="no image files"):
        validate_candidates(tmp_path, scan_aligned(tmp_path, "AtoB"), LIMITS)

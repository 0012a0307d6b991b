"""benchmarks/bf16_quality.py: the verdict of a bf16 run against the fp32 seeds' band; the scores
the quality benchmarks read from a run and their variants (benchmarks/_quality.py)."""

from __future__ import annotations

import json

import pytest

from tests.benchmark_scripts import benchmark_module

BAND = [
    {"ssim": 0.52, "psnr": 13.0, "l1": 38.0, "fid": 204.0, "kid_mean": 0.13},
    {"ssim": 0.53, "psnr": 13.2, "l1": 38.5, "fid": 208.0, "kid_mean": 0.14},
]


def test_verdict_names_the_side_of_the_band_by_the_metric_direction():
    with benchmark_module("bf16_quality") as bench:
        assert bench.verdict("fid", 206.0, BAND) == "fid 206 inside [204, 208]"
        assert bench.verdict("fid", 190.0, BAND).split()[2] == "better"
        assert bench.verdict("l1", 39.0, BAND).split()[2] == "WORSE"
        assert bench.verdict("ssim", 0.54, BAND).split()[2] == "better"
        assert bench.verdict("psnr", 12.9, BAND).split()[2] == "WORSE"


def test_mean_scores_average_every_metric():
    with benchmark_module("bf16_quality") as bench:
        mean = bench.mean_scores(BAND)
    assert mean["ssim"] == (0.52 + 0.53) / 2
    assert mean["fid"] == 206.0
    assert set(mean) == set(BAND[0])


def test_model_scores_are_read_from_the_reported_metrics(tmp_path):
    reporting = tmp_path / "data" / "08_reporting"
    reporting.mkdir(parents=True)
    model = {**BAND[0], "beats": {"copy_source": True}}  # other keys are not scores
    (reporting / "metrics.json").write_text(json.dumps({"model": model, "n_images": 4}))
    with benchmark_module("_quality") as quality:
        assert quality.model_scores(quality.reported_metrics(tmp_path)) == BAND[0]


def test_variants_are_training_parameters_by_name():
    with benchmark_module("_quality") as quality:
        assert quality.parse_variant("old:amp=fp32,training.loss.gan_mode=vanilla") == (
            "old",
            {"training.amp": "fp32", "training.loss.gan_mode": "vanilla"},
        )
        assert quality.parse_variant("auto:") == ("auto", {})
        with pytest.raises(SystemExit, match="'amp' is not KEY=VALUE"):
            quality.parse_variant("broken:amp")

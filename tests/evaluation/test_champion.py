"""The gate's comparison: candidate and champion scored on the same crops, differences paired."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from img2img.evaluation.champion import ChampionModel, compare_with_champion
from img2img.evaluation.config import EvaluationConfig
from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.config import TrainConfig
from img2img.gan.networks import build_generator
from img2img.ingest.caches import SPLITS, split_caches


def test_differences_are_the_per_image_scores_of_the_two_models_on_the_same_crops():
    config = TrainConfig.from_params({"load_size": 40, "crop_size": 32, "generator": {"ngf": 4}})
    candidate = GeneratorArtifact(config.generator_architecture(),
                                  build_generator(config.generator_architecture()).state_dict())  # fmt: skip
    rng = np.random.default_rng(0)
    source = rng.integers(0, 256, (12, 3, 40, 40), dtype=np.uint8)
    target = np.full_like(source, 250)  # far from a black output: per-image L1 above 100
    tensors = (torch.from_numpy(source), torch.from_numpy(target), [f"p{i}" for i in range(12)])
    arrays = dict.fromkeys(SPLITS, tensors)
    cache = split_caches(arrays, "data/01_raw/x", "AtoB")["test"]
    seen = []

    def black(images: np.ndarray) -> np.ndarray:
        seen.append(images.shape)
        return np.zeros_like(images)

    comparison = compare_with_champion(candidate, cache, ChampionModel("3", black),
                                       EvaluationConfig.from_params({"fid": {"enabled": False}}))  # fmt: skip
    assert seen == [(12, 32, 32, 3)]  # the champion saw the candidate's central 32 px crops
    assert comparison.champion["l1"] == pytest.approx(250.0)
    for metric in ("ssim", "psnr", "l1"):
        difference = comparison.differences[metric]
        expected = comparison.candidate[metric] - comparison.champion[metric]
        assert difference.difference == pytest.approx(expected), metric
        assert difference.has_interval()
    assert comparison.eval_set == {"split": "test", "fingerprint": cache.fingerprint,
                                   "n_images": 12, "image_size": 32}  # fmt: skip
    assert comparison.champion["kid_mean"] is None and "kid_mean" not in comparison.differences

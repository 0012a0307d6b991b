"""Bad training parameters fail before training, naming the parameter."""

from __future__ import annotations

import pytest

from img2img.config import ParameterError
from img2img.gan.config import TrainConfig

BASE = {"load_size": 64, "crop_size": 64}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"crop_size": 128}, r"training\.crop_size \(128\) must be <= training\.load_size \(64\)"),
        ({"generator": {"norm": "layer"}}, r"training\.generator\.norm"),
        ({"generator": {"arch": "vit"}}, r"training\.generator\.arch"),
        ({"loss": {"gan_mode": "wgan"}}, r"training\.loss\.gan_mode"),
        ({"load_size": 100, "crop_size": 96}, r"divisible by 2\*\*depth"),
        ({"load_size": 100, "crop_size": 96, "generator": {"depth": 5}}, None),
        ({"batch_size": 0}, r"training\.batch_size"),
        ({"crop_size": -4}, r"training\.crop_size"),
        ({"lr_policy": {"name": "exp"}}, r"training\.lr_policy\.name"),
        ({"optimizer": {"lr": 0}}, r"training\.optimizer\.lr"),
        ({"device": "tpu"}, r"training\.device"),
        ({"epocs": 3}, r"unknown key\(s\) \['epocs'\]"),
        ({"generator": {"ngf": 8, "widht": 3}}, r"training\.generator: unknown key"),
        ({"init_from": ""}, r"training\.init_from must be auto, none, champion or the path"),
        ({"warm_start": {"epochs": 0, "epochs_decay": 0}}, r"training\.warm_start\.epochs \+"),
        ({"warm_start": {"lr": -1}}, r"training\.warm_start\.lr"),
        ({"warm_start": {"epochs": 1, "schedule": 2}}, r"training\.warm_start: unknown key"),
        ({"num_samples": 0}, r"training\.num_samples must be an integer >= 1"),
    ],
)
def test_bad_parameters(override, message):
    params = {**BASE, **override}
    if message is None:
        assert TrainConfig.from_params(params).unet_depth == 5
        return
    with pytest.raises(ParameterError, match=message):
        TrainConfig.from_params(params)


def test_nested_sections_keep_their_defaults():
    config = TrainConfig.from_params({**BASE, "generator": {"ngf": 8}})
    assert config.generator.ngf == 8 and config.generator.norm == "batch"


def test_param_hash_ignores_bookkeeping_keys_only():
    a = TrainConfig.from_params(BASE)
    assert (
        a.param_hash()
        == TrainConfig.from_params({**BASE, "checkpoint_every_epochs": 9}).param_hash()
    )
    assert a.param_hash() != TrainConfig.from_params({**BASE, "seed": 1}).param_hash()

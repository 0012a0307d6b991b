"""The one parameter helper: every stage's configuration is built and checked the same way, and
every bad value is reported at once, named by its full key."""

from __future__ import annotations

import pytest

from img2img.config import ParameterError
from img2img.evaluation.config import EvaluationConfig
from img2img.gan.config import TrainConfig
from img2img.inference.config import InferenceConfig
from img2img.ingest.config import DataProcessingConfig
from img2img.metrics.inception import INCEPTION_BATCH
from img2img.packaging.config import PackagingConfig

CONFIGS = {"training": TrainConfig, "data_processing": DataProcessingConfig,
           "evaluation": EvaluationConfig, "packaging": PackagingConfig, "inference": InferenceConfig}  # fmt: skip


@pytest.mark.parametrize("prefix", sorted(CONFIGS))
def test_every_stage_accepts_its_defaults_and_refuses_unknown_keys(prefix):
    config = CONFIGS[prefix].from_params({})
    assert config == CONFIGS[prefix]()  # the dataclass defaults are the defaults
    with pytest.raises(ParameterError, match=rf"^{prefix}: unknown key\(s\) \['colour'\]"):
        CONFIGS[prefix].from_params({"colour": 1})


def test_all_bad_values_are_reported_at_once():
    with pytest.raises(ParameterError) as error:
        TrainConfig.from_params({"batch_size": 0, "loss": {"gan_mode": "wgan"}, "flip": "yes"})
    message = str(error.value)
    assert message.startswith("3 bad parameters:")
    for name in ("training.batch_size", "training.loss.gan_mode", "training.flip"):
        assert name in message


@pytest.mark.parametrize(
    ("prefix", "params", "message"),
    [
        ("evaluation", {"split": "train"}, r"evaluation\.split must be one of \['test', 'val'\]"),
        (
            "evaluation",
            {"fid": {"batch_size": 0}},
            r"evaluation\.fid\.batch_size must be an integer >= 1",
        ),
        ("evaluation", {"fid": {"bogus": 1}}, r"evaluation\.fid: unknown key"),
        ("evaluation", {"report": {"examples": -1}}, r"evaluation\.report\.examples"),
        (
            "inference",
            {"model": ""},
            r"inference\.model must be a non-empty string.*models:/name@champion",
        ),
        ("inference", {"batch_size": 0}, r"inference\.batch_size"),
        ("packaging", {"gate": {"margin": "x"}}, r"packaging\.gate\.margin"),
        (
            "data_processing",
            {"preprocess": {"workers": 0}},
            r"data_processing\.preprocess\.workers",
        ),
    ],
)
def test_bad_values_name_the_parameter(prefix, params, message):
    with pytest.raises(ParameterError, match=message):
        CONFIGS[prefix].from_params(params)


def test_nested_sections_keep_their_defaults_and_defaults_are_shared():
    config = EvaluationConfig.from_params({"fid": {"kid_subsets": 7}})
    assert config.fid.kid_subsets == 7 and config.fid.batch_size == INCEPTION_BATCH
    assert (
        DataProcessingConfig.from_params({"source": {"kind": "standard"}}).source.folder
        == "facades"
    )
    assert DataProcessingConfig.from_params({}).source.folder == "facades_synthetic"


def test_unknown_keys_and_bad_values_are_reported_together():
    with pytest.raises(ParameterError) as error:
        TrainConfig.from_params({"batch_size": 0, "colour": 1, "loss": {"shade": 2}, "ema": 3})
    message = str(error.value)
    assert message.startswith("4 bad parameters:")
    for problem in ("training: unknown key(s) ['colour']", "training.loss: unknown key(s) ['shade']",
                    "training.ema must be a mapping, got 3", "training.batch_size must be"):  # fmt: skip
        assert problem in message

"""The model card says how long a time-budgeted run trained, and why."""

from __future__ import annotations

from img2img.evaluation.champion import GateComparison
from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.config import TrainConfig
from img2img.gan.plan import TrainingPlan
from img2img.packaging.card import render_model_card

EVAL_SET = {"split": "test", "fingerprint": "f" * 64, "n_images": 4, "image_size": 32}


def card(plan: TrainingPlan | None) -> str:
    config = TrainConfig.from_params({"load_size": 32, "crop_size": 32})
    artifact = GeneratorArtifact(config.generator_architecture(), {}, epochs=13, plan=plan,
                                 train_config=config.to_dict())  # fmt: skip
    return render_model_card(model_name="g", artifact=artifact, metrics={},
                             comparison=GateComparison(EVAL_SET, {"ssim": 0.5}), parity={},
                             decision=None, outcome="a test")  # fmt: skip


def test_the_card_states_a_time_budgets_plan_and_only_then():
    plan = TrainingPlan(15.0, 1200, 100, 0.6543, 40.0, 12, 8.0)
    assert (
        "- Trained for 1200 steps (12 epochs) planned for a budget of 15 minutes, measured "
        "0.6543 s/step\n" in card(plan)
    )
    assert "Trained for" not in card(None) and "- epochs: 13," in card(None)


def test_the_card_states_the_conventions_from_their_own_file():
    config = TrainConfig.from_params({"load_size": 32, "crop_size": 32})
    artifact = GeneratorArtifact(config.generator_architecture(), {}, epochs=1,
                                 train_config=config.to_dict())  # fmt: skip
    conventions = {"conventions": {"ssim": "Wang et al. 2004, 11x11 Gaussian"},
                   "fid_status": "FID/KID not computed: no weights"}  # fmt: skip
    text = render_model_card(model_name="g", artifact=artifact, metrics={"model": {"ssim": 0.5}},
                             conventions=conventions, comparison=GateComparison(EVAL_SET, {}),
                             parity={}, decision=None)  # fmt: skip
    assert "- ssim: Wang et al. 2004, 11x11 Gaussian\n" in text
    assert "- FID/KID status: FID/KID not computed: no weights\n" in text

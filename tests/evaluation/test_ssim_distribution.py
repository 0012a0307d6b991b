"""The per-image SSIM distribution that DVC plots."""

from __future__ import annotations

import math

import pandas as pd

from img2img.evaluation.evaluate import SSIM_BIN_WIDTH, ssim_distribution


def test_fixed_bins_from_the_lowest_occupied_one_up_to_one():
    per_image = pd.DataFrame({"ssim": [0.61, 0.64, 0.70, 0.999, 1.0, math.nan]})
    table = ssim_distribution(per_image)
    assert list(table.columns) == ["ssim_bin", "ssim_low", "pairs"]
    assert (
        table["ssim_bin"].iloc[0] == "0.60 to 0.65" and table["ssim_bin"].iloc[-1] == "0.95 to 1.00"
    )
    assert table["pairs"].tolist() == [
        2,
        0,
        1,
        0,
        0,
        0,
        0,
        2,
    ]  # 1.0 is in the last bin, NaN left out
    assert table["ssim_low"].diff().dropna().round(9).eq(SSIM_BIN_WIDTH).all()


def test_negative_ssim_and_empty_input():
    table = ssim_distribution(pd.DataFrame({"ssim": [-0.12, 0.0]}))
    assert table["ssim_bin"].iloc[0] == "-0.15 to -0.10" and table["pairs"].sum() == 2
    assert table.set_index("ssim_bin").loc["0.00 to 0.05", "pairs"] == 1
    assert ssim_distribution(pd.DataFrame({"ssim": []})).empty
    assert ssim_distribution(pd.DataFrame({"ssim": [math.inf]})).empty

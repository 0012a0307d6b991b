"""The evaluation report is one self-contained HTML page."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from img2img.evaluation.report import Example, render_report


def test_report_is_self_contained_and_shows_everything():
    rng = np.random.default_rng(0)
    per_image = pd.DataFrame(
        {"pair_id": list("abcdef"), "ssim": rng.random(6), "psnr": rng.random(6) * 30}
    )
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    example = Example("pair-a", image, image, image, {"ssim": 0.5, "psnr": 20.0})
    history = pd.DataFrame({"epoch": [1, 2], "loss_G_L1": [0.5, 0.3], "d_real_mean": [0.6, 0.7]})
    html_text = render_report(
        title="Evaluation <run>",
        metrics={
            "model": {"ssim": 0.41, "psnr": 18.2, "fid": None},
            "baselines": {"copy_source": {"ssim": 0.2, "psnr": 12.0, "fid": None}},
            "n_test": 6,
        },
        conventions={"conventions": {"ssim": "Wang et al. 11x11 Gaussian"}, "fid_status": "ok"},
        per_image=per_image,
        examples={"best": [example], "worst": []},
        history=history,
        notes=["Warning: FID unavailable: weights missing"],
    )
    assert html_text.startswith("<!DOCTYPE html>")
    assert "Evaluation &lt;run&gt;" in html_text  # escaped
    assert "copy_source" in html_text and "Wang et al." in html_text and "pair-a" in html_text
    assert "<td>fid_status</td>" in html_text and "<td>n_test</td>" in html_text  # the Run table
    assert "Warning: FID unavailable" in html_text
    assert len(re.findall(r'src="data:image/png;base64,', html_text)) == 3  # hist, example, curves
    # nothing is fetched from the network when viewing it
    assert not re.search(r'(src|href)="(https?:)?//', html_text)

"""The scheduled retraining script (`scripts/retrain.sh`) on a team's own DVC-versioned data:
its second run after merging the first run's pull request does nothing; new data retrains from the
champion. (Its own file, so that the test runner can run it beside tests/test_dvc_pipeline.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from img2img.gan.artifact import GeneratorArtifact
from img2img.ingest.synthetic import render_facade_pair
from tests.conftest import save_image
from tests.test_dvc_pipeline import STAGES, merge_pull_request, ran, run, scratch_repo


def add_facades(dataset: Path, start: int, count: int) -> None:
    for index in range(start, start + count):
        label, photo = render_facade_pair(11, index, 64)
        save_image(dataset / f"f{index:03d}.png", np.concatenate([label, photo], axis=1))


@pytest.mark.slow
def test_retrain_script_twice_the_second_run_after_merging_is_a_no_op_then_new_data_retrains(
    tmp_path,
):
    origin = tmp_path / "origin"
    env = scratch_repo(origin, tmp_path)
    # The team's data: their own AB files, versioned with DVC and pushed to the remote.
    dataset = origin / "data" / "01_raw" / "facades_ab"
    add_facades(dataset, 0, 36)
    params = origin / "conf" / "ci" / "parameters_data_processing.yml"
    params.write_text("data_processing:\n  source: {kind: aligned, dataset_dir: facades_ab}\n"
                      "  preprocess: {load_size: 36}\n")  # fmt: skip
    run(["dvc", "remote", "add", "-d", "storage", str(tmp_path / "remote")], origin, env)
    run(["dvc", "add", "data/01_raw/facades_ab"], origin, env)
    run(["dvc", "push"], origin, env)
    run(["git", "add", "-A"], origin, env)
    run(["git", "commit", "-qm", "data v1"], origin, env)

    first = run(["bash", "scripts/retrain.sh"], origin, env)
    assert ran(first) == {"parameters", *STAGES} and "dvc push" in first
    decision = json.loads((origin / "data" / "08_reporting" / "registry_decision.json").read_text())
    assert decision["alias"] == "champion"
    artifact = GeneratorArtifact.load(origin / "data" / "06_models" / "generator.pt")
    assert artifact.lineage.dvc_file == "data/01_raw/facades_ab.dvc" and artifact.lineage.dvc_md5
    assert (
        artifact.lineage.init.kind == "scratch" and "no champion yet" in artifact.lineage.init.note
    )
    merge_pull_request(origin, env)
    assert run(["git", "status", "--porcelain", "--untracked-files=no"], origin, env) == ""

    # The next scheduled run, on a fresh checkout of the merged main: nothing to do.
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path, env)
    second = run(["bash", "scripts/retrain.sh"], clone, env)
    assert ran(second) == {"parameters"} and "nothing changed" in second, second[-3000:]
    assert run(["git", "status", "--porcelain"], clone, env) == ""

    # New pairs arrive: retrained from the champion, on the grown data, and compared with it.
    add_facades(clone / "data" / "01_raw" / "facades_ab", 36, 12)
    run(["dvc", "add", "data/01_raw/facades_ab"], clone, env)
    third = run(["bash", "scripts/retrain.sh"], clone, env)
    assert ran(third) == {"parameters", *STAGES}
    grown = GeneratorArtifact.load(clone / "data" / "06_models" / "generator.pt")
    assert grown.lineage.init.kind == "champion" and grown.lineage.init.reference.endswith("/1")
    assert grown.lineage.dvc_md5 != artifact.lineage.dvc_md5
    report = (clone / "data" / "08_reporting" / "retrain_report.md").read_text()
    assert "started from: champion models:/img2img-generator/1" in report
    assert "champion (version 1)" in report

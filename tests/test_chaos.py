"""kill -9 at seeded random moments across the `train` pipeline (conf/ci): every re-run completes
and leaves loadable outputs, one data generation, no temporary debris, no half-registered model."""

from __future__ import annotations

import pytest

from tests.chaos import draw_kills, problems_left, run_and_kill, run_to_completion
from tests.kedro_project import make_project_copy

NODES = ["pair_images", "split_pairs", "preprocess_pairs", "train_gan", "evaluate_generator",
         "export_generator", "rescore_champion", "register_generator"]  # fmt: skip


def test_the_node_list_is_the_train_pipeline():
    from img2img.pipelines.end_to_end import create_pipeline

    assert sorted(NODES) == sorted(node.name for node in create_pipeline().nodes)


@pytest.mark.slow
def test_killed_anywhere_the_rerun_completes_and_leaves_nothing_wrong(tmp_path, monkeypatch):
    project = make_project_copy(tmp_path / "project")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    kills = []
    for node, delay in draw_kills(NODES, count=3, seed=8, max_delay_s=1.5):
        kills.append(run_and_kill(project, "train", "ci", node, delay))
        run_to_completion(project, "train", "ci")
        monkeypatch.chdir(project)
        assert problems_left(project, "train", "ci", uri) == [], kills
    assert any(kill.killed for kill in kills), kills  # at least one kill landed mid-run

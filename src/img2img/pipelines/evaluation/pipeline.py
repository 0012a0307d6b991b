"""evaluation: trained generator + held-out split -> predictions, per-image scores, metrics, report;
and the candidate and the registry's champion scored on the same images for the promotion gate."""

from kedro.pipeline import Node, Pipeline

from img2img.pipelines.evaluation.nodes import evaluate_generator, rescore_champion


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                evaluate_generator,
                inputs=[
                    "generator",
                    "test_tensors",
                    "val_tensors",
                    "train_tensors",
                    "training_history",
                    "fid_cache",
                    "params:evaluation",
                ],
                outputs=[
                    "test_predictions",
                    "per_image_metrics",
                    "metrics",
                    "metric_conventions",
                    "evaluation_report",
                    "evaluation_scores",
                    "ssim_distribution",
                ],
                name="evaluate_generator",
            ),
            Node(
                rescore_champion,
                inputs=[
                    "generator",
                    "test_tensors",
                    "val_tensors",
                    "fid_cache",
                    "params:evaluation",
                    "params:packaging.model_name",
                ],
                outputs="gate_comparison",
                name="rescore_champion",
            ),
        ]
    )

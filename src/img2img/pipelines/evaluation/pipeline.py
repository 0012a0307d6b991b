"""evaluation: trained generator + held-out split -> predictions, per-image scores, metrics, report."""

from kedro.pipeline import Node, Pipeline

from img2img.pipelines.evaluation.nodes import evaluate_generator


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
                    "evaluation_report",
                    "evaluation_scores",
                    "ssim_distribution",
                ],
                name="evaluate_generator",
            )
        ]
    )

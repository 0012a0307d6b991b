"""training: tensor caches -> trained generator and discriminator, history, sample grids."""

from kedro.pipeline import Node, Pipeline

from img2img.pipelines.training.nodes import train_gan


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                train_gan,
                inputs=[
                    "train_tensors",
                    "val_tensors",
                    "training_checkpoints",
                    "params:training",
                    "params:packaging.model_name",
                ],
                outputs=["generator", "discriminator", "training_history", "training_samples"],
                name="train_gan",
            )
        ]
    )

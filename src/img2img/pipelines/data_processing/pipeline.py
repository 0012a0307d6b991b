"""data_processing: raw images -> validated, split pairs -> uint8 tensor caches."""

from kedro.pipeline import Node, Pipeline

from img2img.pipelines.data_processing.nodes import pair_images, preprocess_pairs, split_pairs


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                pair_images,
                inputs=["raw_images", "params:data_processing"],
                outputs=["unsplit_pairs", "pairing_rejections"],
                name="pair_images",
            ),
            Node(
                split_pairs,
                inputs=["unsplit_pairs", "pairing_rejections", "params:data_processing"],
                outputs=["pairs", "rejected_pairs"],
                name="split_pairs",
            ),
            Node(
                preprocess_pairs,
                inputs=["pairs", "raw_images", "params:data_processing"],
                outputs=["train_tensors", "val_tensors", "test_tensors"],
                name="preprocess_pairs",
            ),
        ]
    )

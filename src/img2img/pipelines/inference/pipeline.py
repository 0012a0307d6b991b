"""inference: a folder of new images + the champion (or a given) model -> translated images."""

from kedro.pipeline import Node, Pipeline

from img2img.pipelines.inference.nodes import translate_folder


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                translate_folder,
                inputs=[
                    "inference_inputs",
                    "inference_outputs",
                    "params:inference",
                    "params:data_processing.validation.max_pixels",
                ],
                outputs="inference_report",
                name="translate_folder",
            )
        ]
    )

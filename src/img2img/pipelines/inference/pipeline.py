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
                    "params:inference",
                    "params:data_processing.validation.max_pixels",
                ],
                # The folder it writes into (inference.output_dir = the catalog's path, both from
                # conf/base/globals.yml); existing outputs are skipped unless inference.overwrite.
                outputs=["inference_outputs", "inference_report"],
                name="translate_folder",
            )
        ]
    )

"""train: the retraining entry point, every stage end to end (also ``__default__``).

It has a folder of its own because ``kedro run --pipelines=train`` imports only this folder.
"""

from kedro.pipeline import Pipeline

from img2img.pipelines import data_processing, evaluation, packaging, training

STAGES = (data_processing, training, evaluation, packaging)


def create_pipeline(**kwargs) -> Pipeline:
    return sum((stage.create_pipeline() for stage in STAGES), Pipeline([]))

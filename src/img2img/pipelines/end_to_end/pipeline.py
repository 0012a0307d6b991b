"""The end-to-end pipeline: every stage, data_processing -> training -> evaluation -> packaging.

Registered as ``train`` (``kedro run --pipelines=train``, the retraining entry point) and as
``__default__`` (see :mod:`img2img.pipeline_registry`).
"""

from kedro.pipeline import Pipeline

from img2img.pipelines import data_processing, evaluation, packaging, training

STAGES = (data_processing, training, evaluation, packaging)


def create_pipeline(**kwargs) -> Pipeline:
    return sum((stage.create_pipeline() for stage in STAGES), Pipeline([]))

"""Project pipelines."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Every folder in ``pipelines/`` is a pipeline; ``train`` (all stages) is the default.

    With ``kedro run --pipelines=X`` Kedro imports only the requested folders, so ``train`` may be
    absent from the mapping; ``__default__`` is set only when it is there.
    """
    pipelines = find_pipelines(raise_errors=True)
    if "train" in pipelines:
        pipelines["__default__"] = pipelines["train"]
    return pipelines

"""Project pipelines: one folder per stage in ``pipelines/``, and the end-to-end pipeline.

The registry is explicit (no folder discovery): ``pipelines/end_to_end`` is registered as ``train``,
the name users type (``kedro run --pipelines=train``), and as ``__default__``, so its folder name
cannot be confused with the ``training`` stage.
"""

from importlib import import_module

from kedro.pipeline import Pipeline

STAGES = ("data_processing", "training", "evaluation", "packaging", "inference")
END_TO_END = "end_to_end"
END_TO_END_NAMES = ("train", "__default__")


def _pipeline(folder: str) -> Pipeline:
    return import_module(f"img2img.pipelines.{folder}").create_pipeline()


def register_pipelines() -> dict[str, Pipeline]:
    registered = {name: _pipeline(name) for name in STAGES}
    end_to_end = _pipeline(END_TO_END)
    return {**registered, **dict.fromkeys(END_TO_END_NAMES, end_to_end)}

"""The registered generator's MLflow model, as code ("models from code").

:func:`img2img.packaging.gate.register_version` logs this file, not a pickled object: MLflow copies
it into each registered version and runs it when the version is loaded, so loading a registered
model runs this project's code as installed and no cloudpickled object. Keep it importable from
the project alone and keep the model it sets in :mod:`img2img.packaging.pyfunc`.
"""

from mlflow.models import set_model

from img2img.packaging.pyfunc import GeneratorPyfunc

set_model(GeneratorPyfunc())

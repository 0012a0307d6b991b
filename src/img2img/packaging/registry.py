"""The model registry's names and lookups (no evaluation code: training imports this module).

Every registered version of ``packaging.model_name`` is an MLflow pyfunc model holding the
generator's export (a ``torch.export`` program; TorchScript in versions from before it) and, as
:data:`GENERATOR_WEIGHTS` / :data:`DISCRIMINATOR_WEIGHTS`, the artifacts a later run warm-starts
from (:mod:`img2img.packaging.warm_start`). The gate that moves the ``champion`` and
``challenger`` aliases is :mod:`img2img.packaging.gate`.
"""

from __future__ import annotations

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

CHAMPION, CHALLENGER = "champion", "challenger"
GENERATOR_WEIGHTS, DISCRIMINATOR_WEIGHTS = "generator_weights.pt", "discriminator_weights.pt"


def find_champion(client: MlflowClient, model_name: str) -> ModelVersion | None:
    """The version that holds the ``champion`` alias, or None (no model, or no champion yet)."""
    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None

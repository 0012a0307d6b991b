"""Kedro project settings for img2img.

Only what differs from Kedro's defaults is set here.
"""

import os

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from img2img.mlflow_outage import TolerantMlflowHook
from img2img.preflight import PreflightHook
from img2img.run_record import RunRecordHook

DEFAULT_RUN_ENV = "local"  # `kedro run` without --env: conf/base + conf/local

# Parameters checked before the first node, temporaries of killed runs swept (img2img/preflight.py);
# kedro-mlflow's hook, with MLflow calls that survive a tracking server going away mid-run
# (img2img/mlflow_outage.py); it replaces the instance the plugin registers by itself. Then the
# tags that reproduce each run: exact command, environment, commit (img2img/run_record.py).
HOOKS = (PreflightHook(), TolerantMlflowHook(), RunRecordHook(default_env=DEFAULT_RUN_ENV))


def env_or_default(name: str, default: str | None = None) -> str | None:
    """``${env_or_default:VAR,default}``: the variable, or ``default`` when it is unset *or empty*
    (an unset CI secret arrives as an empty string; ``oc.env`` would return "")."""
    return os.environ.get(name) or default


DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": DEFAULT_RUN_ENV,
    # Kedro 1.x replaces a whole top-level key when an environment overrides it; soft merging
    # lets `conf/ci/parameters_training.yml` change one knob and keep the rest from base.
    "merge_strategy": {"parameters": "soft", "catalog": "soft", "mlflow": "soft"},
    # `${oc.env:VAR,default}` everywhere; `${env_or_default:VAR,default}` where empty means unset
    # (MLFLOW_TRACKING_URI in mlflow.yml).
    "custom_resolvers": {"oc.env": oc.env, "env_or_default": env_or_default},
    "config_patterns": {"mlflow": ["mlflow*", "mlflow*/**", "**/mlflow*"]},
}

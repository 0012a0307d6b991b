"""A configuration environment's training parameters as ``kedro run --env ENV`` resolves them,
read from the YAML files alone (no Kedro: ``benchmarks/gpu_check.sh`` also runs with a Python that
has torch but not the project's other dependencies).

conf/base's ``parameters*.yml``, then conf/ENV's merged over them key by key (the project's
``merge_strategy: soft``, src/img2img/settings.py). ``training.load_size: null`` means the size the
caches were written at, ``data_processing.preprocess.load_size`` (the training node reads it off the
caches). A value that is exactly ``${globals:KEY}`` takes KEY from the environment's ``globals.yml``
files (merged the same way). ``tests/gpu/test_gpu_check.py`` checks this against Kedro's own config
loader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

CONF = Path(__file__).resolve().parents[1] / "conf"
GLOBAL_REFERENCE = re.compile(r"\$\{globals:([^}]+)\}")


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged over ``base``: mappings key by key, anything else replaced."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def parameters(env: str) -> dict[str, Any]:
    """Every parameter of ``env`` (``base``: conf/base alone)."""
    return resolve_globals(read(env, "parameters*.yml"), read(env, "globals*.yml"))


def read(env: str, pattern: str) -> dict[str, Any]:
    """The files matching ``pattern`` in conf/base, then conf/ENV, merged in that order."""
    folders = ["base"] if env == "base" else ["base", env]
    result: dict[str, Any] = {}
    for folder in folders:
        if not (CONF / folder).is_dir():
            raise FileNotFoundError(f"configuration environment '{folder}' not found in {CONF}")
        for path in sorted((CONF / folder).glob(pattern)):
            result = merged(result, yaml.safe_load(path.read_text()) or {})
    return result


def resolve_globals(value: Any, globals_: Mapping[str, Any]) -> Any:
    """``value`` with every string that is exactly ``${globals:KEY}`` replaced by its value."""
    if isinstance(value, Mapping):
        return {key: resolve_globals(inner, globals_) for key, inner in value.items()}
    if isinstance(value, list):
        return [resolve_globals(inner, globals_) for inner in value]
    match = GLOBAL_REFERENCE.fullmatch(value) if isinstance(value, str) else None
    return globals_[match.group(1)] if match else value


def training_recipe(env: str) -> dict[str, Any]:
    """``training:`` of ``env``, with ``load_size`` as the training node sees it."""
    params = parameters(env)
    training = dict(params["training"])
    if training.get("load_size") is None:
        training["load_size"] = params["data_processing"]["preprocess"]["load_size"]
    return training

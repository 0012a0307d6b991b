"""Parameters, the one way: a stage's configuration is a frozen dataclass whose field defaults are
the defaults (written once); :func:`build` fills it from a parameter mapping (nested dataclasses for
nested sections, unknown keys refused), and a :class:`Checks` collects every bad value, so that all
are reported at once, each named by its full key (``training.batch_size must be ...``).

Every stage's config uses it: ``TrainConfig`` (:mod:`img2img.gan.config`), ``DataProcessingConfig``
(:mod:`img2img.ingest.config`), ``EvaluationConfig``, ``PackagingConfig`` and ``InferenceConfig``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class ParameterError(ValueError):
    """Parameters with bad values; the message names every one and what is wrong with it, and
    ``problems`` lists them one by one (the message itself when not given)."""

    def __init__(self, message: str, problems: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


def build(kind: type[T], values: Mapping[str, Any] | None, path: str,
          errors: list[str] | None = None) -> T:  # fmt: skip
    """``kind`` (a dataclass) from ``values``; sections whose default is a dataclass are built
    the same way. Unknown keys and sections that are not mappings are errors naming their full key:
    appended to ``errors`` (the rest is still built, from defaults) or, without it, raised."""
    collected: list[str] = [] if errors is None else errors
    config = _build(kind, values, path, collected)
    if errors is None and collected:
        raise ParameterError("\n".join(collected), collected)
    return config


def _build(kind: type[T], values: Any, path: str, errors: list[str]) -> T:
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        errors.append(f"{path} must be a mapping, got {values!r}")
        values = {}
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        errors.append(f"{path}: unknown key(s) {unknown}; allowed: {sorted(fields)}")
    kwargs = {}
    for name, value in values.items():
        if name not in fields:
            continue
        factory = fields[name].default_factory
        default = factory() if callable(factory) else fields[name].default
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{path}.{name}", errors)
        else:
            kwargs[name] = value
    return kind(**kwargs)


class Checks:
    """Every problem of one configuration, collected; :meth:`done` raises them all together.

    Each check returns whether the value is good, so later checks can depend on it."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.errors: list[str] = []

    def fail(self, name: str, problem: str) -> bool:
        self.errors.append(f"{self.prefix}.{name} {problem}")
        return False

    def integer(self, value: Any, name: str, minimum: int) -> bool:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            return self.fail(name, f"must be an integer >= {minimum}, got {value!r}")
        return True

    def number(self, value: Any, name: str, low: float, high: float | None = None, *,
               open_low: bool = False) -> bool:  # fmt: skip
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and (value > low if open_low else value >= low) and (high is None or value <= high)
        if not ok:
            bound = f"in ({low}, {high if high is not None else 'inf'}]" if open_low else \
                f"in [{low}, {high if high is not None else 'inf'}]"  # fmt: skip
            return self.fail(name, f"must be a number {bound}, got {value!r}")
        return True

    def choice(self, value: Any, name: str, choices: Iterable[Any]) -> bool:
        choices = list(choices)
        if value not in choices:
            return self.fail(name, f"must be one of {choices}, got {value!r}")
        return True

    def boolean(self, value: Any, name: str) -> bool:
        if not isinstance(value, bool):
            return self.fail(name, f"must be true or false, got {value!r}")
        return True

    def text(self, value: Any, name: str) -> bool:
        if not isinstance(value, str) or not value.strip():
            return self.fail(name, f"must be a non-empty string, got {value!r}")
        return True

    def names(self, value: Any, name: str, choices: Iterable[str], *, empty: bool) -> bool:
        """A list of names from ``choices`` (``empty``: an empty list is allowed)."""
        choices = list(choices)
        ok = isinstance(value, list | tuple) and (empty or len(value) > 0)
        if not ok or not all(isinstance(item, str) and item in choices for item in value):
            article = "a" if empty else "a non-empty"
            return self.fail(name, f"must be {article} list of names from {choices}, got {value!r}")
        return True

    def done(self) -> None:
        """Raise :class:`ParameterError` naming every problem found (nothing when none)."""
        if len(self.errors) == 1:
            raise ParameterError(self.errors[0])
        if self.errors:
            raise ParameterError(
                f"{len(self.errors)} bad parameters:\n- " + "\n- ".join(self.errors), self.errors
            )


def parse(kind: type[T], values: Mapping[str, Any] | None, prefix: str, check: Any) -> T:
    """:func:`build` ``kind`` from ``values`` and run ``check(config, Checks(prefix))`` on it;
    the config, or ParameterError naming every bad value."""
    checks = Checks(prefix)
    config = build(kind, values, prefix, checks.errors)
    check(config, checks)
    checks.done()
    return config

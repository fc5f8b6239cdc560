"""Configuration: ``[tool.dslint]`` in ``pyproject.toml`` or a ``dslint.toml``.

The file nearest to a linted file wins (searched upwards from the file's folder), unless
``--config`` names one. Unknown keys are an error that names the key and the file: a typo
must never silently turn a check off.

Example::

    [tool.dslint]
    model = "gpt-4.1-mini-2025-04-14"
    fail-on = "warning"
    ignore = ["Q001"]
    severity = { S011 = "info" }
    per-file-ignores = { "data/legacy/*.jsonl" = ["S024"] }
    validation = { "data/train.jsonl" = "data/val.jsonl" }   # checked together (leakage)
    combine-files = false   # true: the inputs are shards of one dataset, compared together

    [tool.dslint.rules.S009]          # a rule's options, by code or name
    minimum = 100

    [tool.dslint.models.my-llama]     # your own target
    encoding = "cl100k_base"
    max_tokens = 8192
    formats = ["chat"]
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dslint.finding import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_FILES = ("dslint.toml", "pyproject.toml")
FAIL_ON = ("error", "warning", "info", "never")

# Sections owned by one feature each; the feature validates its own keys (and rejects
# unknown ones) when it reads its section.
FEATURE_SECTIONS = ("duplicates", "voice", "privacy", "moderation", "review", "cache")


class ConfigError(Exception):
    """A configuration problem; the CLI prints it on one line and exits with 2."""


@dataclass(frozen=True)
class Config:
    source: Path | None = None
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    per_file_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    model: str | None = None
    fail_on: str = "error"
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Training file (glob, relative to the config's folder) -> its validation file.
    validation: Mapping[str, str] = field(default_factory=dict)
    # Treat all input files as shards of one dataset (dataset rules compare across them).
    combine_files: bool = False
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        """The folder relative paths in the config are resolved against."""
        return self.source.parent if self.source else Path.cwd()

    def section(self, name: str) -> Mapping[str, Any]:
        return self.sections.get(name, {})

    def validation_for(self, train: Path) -> list[Path]:
        """Validation files paired with this training file in the config."""
        import fnmatch

        try:
            relative = train.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            relative = train.as_posix()
        return [
            self.root / validation
            for pattern, validation in self.validation.items()
            if fnmatch.fnmatch(relative, pattern)
        ]

    def is_validation(self, path: Path) -> bool:
        """Whether the config pairs this file as a validation file (of any training file)."""
        target = path.resolve()
        return any((self.root / held).resolve() == target for held in self.validation.values())

    def training_for(self, validation: Path) -> list[Path]:
        """The training files the config pairs with this validation file: a pattern with
        wildcards is matched against the files under the config's folder (as
        :meth:`validation_for` matches it), a plain name is the file itself. Validation
        files are never training files here."""
        import fnmatch
        import glob
        from pathlib import PurePosixPath

        target = validation.resolve()
        found: list[Path] = []
        for pattern, held in self.validation.items():
            if (self.root / held).resolve() != target:
                continue
            parts = PurePosixPath(pattern).parts
            wild = [i for i, part in enumerate(parts) if any(magic in part for magic in "*?[")]
            if not wild:
                found.append(self.root / pattern)
                continue
            # Walk only the folder the pattern's plain start names ("data/*.jsonl": data/).
            start = PurePosixPath(*parts[: wild[0]])
            for name in sorted(glob.glob("**", root_dir=self.root / start, recursive=True)):
                relative = (start / name).as_posix()
                if fnmatch.fnmatch(relative, pattern) and (self.root / relative).is_file():
                    found.append(self.root / relative)
        return [path for path in dict.fromkeys(found) if not self.is_validation(path)]

    def with_overrides(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def _table(value: Any, key: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{key}' must be a table")
    return value


def parse(data: Mapping[str, Any], source: Path | None) -> Config:
    """Validate a ``[tool.dslint]`` table into a Config."""
    where = str(source) if source else "config"
    kwargs: dict[str, Any] = {"source": source}
    sections: dict[str, Any] = {}
    for key, value in data.items():
        normal = key.replace("_", "-")
        if normal == "select":
            kwargs["select"] = _strings(value, key, where)
        elif normal == "extend-select":
            kwargs["extend_select"] = _strings(value, key, where)
        elif normal == "ignore":
            kwargs["ignore"] = _strings(value, key, where)
        elif normal == "severity":
            try:
                kwargs["severity"] = {
                    code: Severity.parse(str(level))
                    for code, level in _table(value, key, where).items()
                }
            except ValueError as exc:
                raise ConfigError(f"{where}: severity: {exc}") from None
        elif normal == "per-file-ignores":
            kwargs["per_file_ignores"] = {
                pattern: _strings(codes, f"{key}.{pattern}", where)
                for pattern, codes in _table(value, key, where).items()
            }
        elif normal == "model":
            if not isinstance(value, str):
                raise ConfigError(f"{where}: 'model' must be a string")
            kwargs["model"] = value
        elif normal == "fail-on":
            if value not in FAIL_ON:
                raise ConfigError(f"{where}: 'fail-on' must be one of {', '.join(FAIL_ON)}")
            kwargs["fail_on"] = value
        elif normal == "models":
            kwargs["models"] = {
                name: _table(entry, f"models.{name}", where)
                for name, entry in _table(value, key, where).items()
            }
        elif normal == "rules":
            kwargs["rules"] = {
                name: _table(entry, f"rules.{name}", where)
                for name, entry in _table(value, key, where).items()
            }
        elif normal == "combine-files":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: 'combine-files' must be true or false")
            kwargs["combine_files"] = value
        elif normal == "validation":
            pairs = _table(value, key, where)
            if not all(isinstance(v, str) for v in pairs.values()):
                raise ConfigError(f"{where}: 'validation' maps training files to validation files")
            kwargs["validation"] = pairs
        elif normal in FEATURE_SECTIONS:
            sections[normal] = _table(value, key, where)
        else:
            raise ConfigError(f"{where}: unknown key '{key}' in [tool.dslint]")
    kwargs["sections"] = sections
    return Config(**kwargs)


def load(path: Path) -> Config:
    """Read one config file (``dslint.toml`` or ``pyproject.toml``)."""
    try:
        with open(path, "rb") as fh:
            document = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        document = document.get("tool", {}).get("dslint", {})
    elif "tool" in document and "dslint" in document.get("tool", {}):
        # dslint.toml may use the same [tool.dslint] header as pyproject.toml.
        document = document["tool"]["dslint"]
    return parse(document, path)


def has_dslint_table(path: Path) -> bool:
    if path.name != "pyproject.toml":
        return True
    try:
        with open(path, "rb") as fh:
            return "dslint" in tomllib.load(fh).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False


def find_config(start: Path) -> Path | None:
    """The nearest config file at or above ``start`` (a file or a folder)."""
    folder = start.resolve()
    if not folder.is_dir():
        folder = folder.parent
    for candidate_folder in (folder, *folder.parents):
        for name in CONFIG_FILES:
            candidate = candidate_folder / name
            if candidate.is_file() and has_dslint_table(candidate):
                return candidate
    return None

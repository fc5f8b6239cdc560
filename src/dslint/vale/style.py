"""Read a Vale style folder (``<Style>/*.yml``) into compiled checks.

Only data is read (``yaml.safe_load``); nothing from the style is executed. A rule whose
kind dslint does not run (spelling, sequence, script, metric) is kept in ``skipped`` so the
report can say so once instead of dropping it silently.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dslint.config import ConfigError
from dslint.vale.checks import SUPPORTED, Check, build_check

UNSUPPORTED = ("spelling", "sequence", "script", "metric")


@dataclass
class Style:
    name: str
    checks: list[Check] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (Style.Rule, kind)
    #: A digest of the rule files as they were read: what V013's memo of alerts depends on.
    digest: str = ""


def load_style(folder: Path) -> Style:
    """Load every ``*.yml`` rule of the style in ``folder`` (the folder's name is the style)."""
    import yaml

    style = Style(folder.name)
    files = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    if not files:
        raise ConfigError(f"{folder}: no Vale rules (*.yml) in this style folder")
    digest = hashlib.blake2b(digest_size=16)
    for path in files:
        name = f"{style.name}.{path.stem}"
        try:
            data = path.read_bytes()
            digest.update(f"{path.name}\0{len(data)}\0".encode() + data)
            # Decoded as open(path, encoding="utf-8") reads it (universal newlines).
            definition: Any = yaml.safe_load(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read Vale rule: {_first_line(exc)}") from None
        if not isinstance(definition, dict) or "extends" not in definition:
            raise ConfigError(f"{path}: a Vale rule needs an 'extends' key")
        kind = str(definition["extends"])
        if kind not in SUPPORTED:
            style.skipped.append((name, kind))
            continue
        try:
            style.checks.append(build_check(name, definition))
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"{path}: invalid Vale rule: {_first_line(exc)}") from None
    style.digest = digest.hexdigest()
    return style


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

"""Where the shipped data packs (the repository's ``rules/`` folder) are on this install.

A wheel carries them as ``dslint/packs``; an editable install or a source checkout reads
them from the repository's ``rules/`` folder directly.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


@cache
def packs_dir() -> Path:
    installed = Path(__file__).resolve().parent / "packs"
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parents[2] / "rules"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("dslint's data packs are missing from this installation")


def pack_path(*parts: str) -> Path:
    return packs_dir().joinpath(*parts)


@cache
def load_toml(*parts: str) -> dict[str, Any]:
    with open(pack_path(*parts), "rb") as fh:
        data: dict[str, Any] = tomllib.load(fh)
    return data

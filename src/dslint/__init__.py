"""dslint: a dataset quality and safety linter for fine-tuning chat models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "check"]

if TYPE_CHECKING:
    from dslint.api import check


def __getattr__(name: str) -> Any:
    # Imported lazily so that `import dslint` (and the CLI's start-up) stays cheap.
    if name == "check":
        from dslint.api import check

        return check
    raise AttributeError(name)

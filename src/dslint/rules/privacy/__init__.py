"""Privacy: personal data (P0xx) and secrets (P1xx) in the examples, found offline."""

from dslint.rules.privacy.rules import RULES

__all__ = ["RULES"]

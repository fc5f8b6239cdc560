"""Duplicates (D001-D006): exact and near copies, conflicting answers, validation leakage.

The rules compare compact per-example summaries (64-bit content keys, MinHash band hashes)
computed once and memoised in ``dataset.cache`` under ``duplicates.*`` keys, so they could
be computed per partition of a large dataset and combined in a reduce step.
"""

from dslint.rules.duplicates import exact, leakage, near
from dslint.rules.duplicates.stats import shares

RULES = [*exact.RULES, *near.RULES, *leakage.RULES]

__all__ = ["RULES", "shares"]

"""Token rules: examples against the target's limit, tool-definition weight, model dates (T0xx)."""

from dslint.rules.tokens import dates, limits

RULES = [*limits.RULES, *dates.RULES]

"""Brand voice (V001-V013): a voice profile, system prompt drift, tone outliers, language
consistency and Vale styles, checked across the whole dataset."""

from dslint.rules.voice import drift, language, limits, terms, tone, vale_rule

RULES = [*terms.RULES, *limits.RULES, *drift.RULES, *tone.RULES, *language.RULES,
         *vale_rule.RULES]  # fmt: skip

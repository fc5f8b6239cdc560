"""Format and schema rules: what the fine-tuning APIs would reject (S0xx-S3xx, Q001)."""

from dslint.rules.schema import file, methods, parse, quality, structure, tools

RULES = [*parse.RULES, *file.RULES, *structure.RULES, *tools.RULES, *methods.RULES,
         *quality.RULES]  # fmt: skip

"""Moderation: offline profanity (M001) and OpenAI's moderation endpoint (M101, M102)."""

from dslint.rules.moderation import openai_rules, profanity

RULES = [profanity.Profanity, *openai_rules.RULES]

__all__ = ["RULES"]

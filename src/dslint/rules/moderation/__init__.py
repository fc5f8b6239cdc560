"""Moderation: offline profanity (M001) and OpenAI's moderation endpoint (M101, M102).

``RULES`` is made when first asked for (the entry point loads it): every check reads this
family's ``settings`` to know whether a run may reach a service, and importing the rules
with it cost a run that chose none of them about 5 ms.
"""

from typing import Any

__all__ = ["RULES"]


def __getattr__(name: str) -> Any:
    if name != "RULES":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from dslint.rules.moderation import openai_rules, profanity

    rules = [profanity.Profanity, *openai_rules.RULES]
    globals()["RULES"] = rules
    return rules

"""Rules specific to the preference (DPO) and reinforcement (RFT) formats (S301-S311)."""

from __future__ import annotations

from collections.abc import Iterator

from dslint.finding import Hit, Severity
from dslint.loader import Record
from dslint.rules.schema._structure import DPO_RENAMES, iter_messages
from dslint.rules.schema.structure import StructureRule


class DeprecatedDpoKeys(StructureRule):
    """DPO lines use the old key names ``preferred_completion`` / ``non_preferred_completion``.

    API spec versions from 2024-12 to 2025-05 used them; the API now expects
    ``preferred_output`` and ``non_preferred_output``. Rename the keys (``dslint fix`` does).

    FAIL::

        {"input": {"messages": [{"role": "user", "content": "Hi"}]}, "preferred_completion": [{"role": "assistant", "content": "Hello!"}], "non_preferred_completion": [{"role": "assistant", "content": "What?"}]}
    """

    code = "S301"
    name = "deprecated-dpo-keys"
    triggers = ('_completion"',)
    formats = frozenset({"dpo"})

    def extra(self, record: Record) -> Iterator[Hit]:
        for old, new in DPO_RENAMES.items():
            if old in record.value:
                yield Hit(f"'{old}' is the old name of '{new}': rename the key", f"/{old}")


class InvalidDpoOutput(StructureRule):
    """A DPO output is not a list of exactly one assistant message.

    ``preferred_output`` and ``non_preferred_output`` each hold one assistant message; DPO is
    one-turn and text only.

    FAIL::

        {"input": {"messages": [{"role": "user", "content": "Hi"}]}, "preferred_output": [{"role": "assistant", "content": "Hello!"}, {"role": "assistant", "content": "Hi!"}], "non_preferred_output": [{"role": "assistant", "content": "What?"}]}

    PASS::

        {"input": {"messages": [{"role": "user", "content": "Hi"}]}, "preferred_output": [{"role": "assistant", "content": "Hello!"}], "non_preferred_output": [{"role": "assistant", "content": "What?"}]}
    """

    code = "S302"
    name = "invalid-dpo-output"
    formats = frozenset({"dpo"})


class RftLastMessageNotUser(StructureRule):
    """An RFT example does not end with a user message.

    Reinforcement fine-tuning samples the model's answer to the prompt; Azure requires the last
    message to be from the user, and a trailing assistant answer is ignored at best.

    FAIL::

        {"messages": [{"role": "developer", "content": "Answer with a number."}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}], "reference_answer": "4"}
    """

    code = "S311"
    name = "rft-last-message-not-user"
    severity = Severity.WARNING
    formats = frozenset({"rft"})

    def extra(self, record: Record) -> Iterator[Hit]:
        messages = list(iter_messages(record))
        if messages and messages[-1].role not in ("user", None):
            last = messages[-1]
            yield Hit(f"the example ends with {last.label}; RFT prompts end with a user message",
                      last.pointer)  # fmt: skip


RULES = [DeprecatedDpoKeys, InvalidDpoOutput, RftLastMessageNotUser]

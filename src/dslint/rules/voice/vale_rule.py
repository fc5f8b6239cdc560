"""Vale styles on message text: the same YAML rules a docs team already uses."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

from dslint.cache import dataset_memo
from dslint.dataset import Dataset
from dslint.finding import Category, Hit, Severity
from dslint.rule import DatasetRule
from dslint.rules.voice._keys import ROWS, VALE
from dslint.rules.voice._shared import quote, text_hit, voice_settings
from dslint.rules.voice._text import row_text, rows_for_roles

LEVEL_SEVERITY = {
    "suggestion": Severity.INFO,
    "warning": Severity.WARNING,
    "error": Severity.ERROR,
}


class ValeStyle(DatasetRule):
    """A rule of a configured Vale style fires on a message.

    ``[tool.dslint.voice] vale = ["styles/Microsoft"]`` runs every rule of those style
    folders on the checked messages, with Vale's semantics for existence, substitution,
    occurrence, repetition, consistency, capitalization, conditional and readability rules
    (``tokens``, ``raw``, ``swap``, ``ignorecase``, ``nonword``, ``scope``, ``exceptions``,
    ``%s`` messages). Vale's ``level`` becomes the severity (suggestion -> info, warning ->
    warning, error -> error) unless the config overrides V013. Rules of kinds dslint does
    not run (spelling, sequence, script, metric) are listed once in the report notes.
    Code blocks, inline code, HTML comments and link targets are not checked, as in Vale.
    """

    code = "V013"
    shares = (ROWS, VALE)
    name = "vale-style"
    category = Category.VOICE
    severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        settings = voice_settings(self)
        if not settings.vale:
            return
        from dslint import vale

        styles = dataset.cache.get(VALE)
        if styles is None:
            styles = [vale.load_style(folder) for folder in settings.vale]
            dataset.cache[VALE] = styles
        skipped = [f"{name} ({kind})" for style in styles for name, kind in style.skipped]
        if skipped:
            self.context.notes.append(
                "voice: Vale rules not run (kind not supported): " + ", ".join(skipped)
            )
        rows = rows_for_roles(dataset, settings.roles)
        texts = row_text(rows).tolist()
        # Every Vale check reads one message at a time, so a message's alerts follow from its
        # text: they are remembered per text (a re-run runs the styles on new texts only).
        order = {id(check): number for number, check in
                 enumerate(c for style in styles for c in style.checks)}  # fmt: skip

        def compute(missing: list[str]) -> list[list[list[Any]]]:
            alerts: list[list[list[Any]]] = [[] for _ in missing]
            for check, alert in vale.run_checks(styles, missing,
                                                min_level=settings.vale_min_level):  # fmt: skip
                alerts[alert.piece].append([order[id(check)], alert.start, alert.end,
                                            alert.rule, alert.message, alert.level])  # fmt: skip
            return alerts

        version = _memo_version(styles, settings.vale_min_level)
        per_text = dataset_memo("voice.vale", version).map(texts, compute, _are_alerts)
        # In the order the styles' checks run (check by check, message by message): findings
        # at the same place keep the order they had before the memo.
        found = sorted(((alert[0], piece, n, alert) for piece, alerts in enumerate(per_text)
                        for n, alert in enumerate(alerts)), key=lambda a: a[:3])  # fmt: skip
        for _, piece, _, (_, start, end, rule, message, level) in found:
            yield text_hit(
                rows, piece, f"{message} {quote(texts[piece][start:end])} (Vale {rule})",
                (start, end), severity=LEVEL_SEVERITY[level], key=f"{rule}:{start}",
            )  # fmt: skip


def _are_alerts(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(a, list) and len(a) == 6
        and all(type(v) is int for v in a[:3])
        and all(type(v) is str for v in a[3:])
        and a[5] in LEVEL_SEVERITY
        for a in value
    )  # fmt: skip


def _memo_version(styles: Sequence[Any], min_level: str) -> str:
    """What a message's alerts depend on besides its text: the styles' rule files (their
    digests, made as they were read), the lowest level reported, the Vale code and the regex
    library."""
    from dslint.cache import source_stamp
    from dslint.installed import library_version

    loaded = ",".join(f"{style.name}:{style.digest}" for style in styles)
    modules = [name for name in sys.modules if name.startswith("dslint.vale")]
    stamp = source_stamp([*modules, __name__])
    return f"2/{loaded}/{min_level}/{library_version('regex')}/{stamp}"


RULES = [ValeStyle]

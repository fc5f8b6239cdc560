"""Vale styles on message text: the same YAML rules a docs team already uses."""

from __future__ import annotations

from collections.abc import Iterator

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
        for alert in vale.run(styles, texts, min_level=settings.vale_min_level):
            found = texts[alert.piece][alert.start : alert.end]
            yield text_hit(
                rows, alert.piece,
                f"{alert.message} {quote(found)} (Vale {alert.rule})",
                (alert.start, alert.end), severity=LEVEL_SEVERITY[alert.level],
                key=f"{alert.rule}:{alert.start}",
            )  # fmt: skip


RULES = [ValeStyle]

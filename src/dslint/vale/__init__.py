"""Run Vale styles (folders of YAML rules) on message text, with Vale's semantics.

>>> style = load_style(Path("styles/Microsoft"))          # doctest: +SKIP
>>> alerts = list(run([style], ["I cannot log in."]))      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

from dslint.vale.checks import Alert, Check, Corpus
from dslint.vale.style import UNSUPPORTED, Style, load_style

LEVELS = {"suggestion": 0, "warning": 1, "error": 2}

__all__ = ["UNSUPPORTED", "Alert", "Style", "load_style", "run", "run_checks"]


def run(
    styles: Sequence[Style],
    texts: Sequence[str],
    *,
    only: Collection[str] | None = None,
    min_level: str = "suggestion",
    prefilter: bool = True,
) -> Iterator[Alert]:
    """Every alert of the styles' checks over ``texts`` (``only``: these Style.Rule names).

    ``prefilter=False`` scans every message with every rule; the alerts are the same.
    """
    for _, alert in run_checks(styles, texts, only=only, min_level=min_level,
                               prefilter=prefilter):  # fmt: skip
        yield alert


def run_checks(
    styles: Sequence[Style],
    texts: Sequence[str],
    *,
    only: Collection[str] | None = None,
    min_level: str = "suggestion",
    prefilter: bool = True,
) -> Iterator[tuple[Check, Alert]]:
    """:func:`run`'s alerts, each with the check that raised it."""
    corpus = Corpus(texts, prefilter=prefilter)
    floor = LEVELS[min_level]
    for style in styles:
        for check in style.checks:
            if only is not None and check.name not in only:
                continue
            if LEVELS[check.level] < floor:
                continue
            for alert in check.run(corpus):
                yield check, alert

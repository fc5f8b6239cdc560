"""Vale conformance: each fixture of the Microsoft and Google styles in ../shared/vale, given
as one assistant message, must raise the alerts Vale's own suite expects
(``features/rules.feature``: line and column inside the message, rule, message)."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from conftest import SHARED
from dslint.rules.voice._text import line_and_column
from dslint.vale import load_style, run
from dslint.vale.checks import Substitution

VALE = SHARED / "vale"
STYLES = ("Microsoft", "Google")
TARGET = 0.90

needs_vale = pytest.mark.skipif(not VALE.is_dir(), reason="../shared/vale is absent")

_SCENARIO = re.compile(r'^\s*When I test "([^"]+)"', re.MULTILINE)
_ALERT = re.compile(r"^\s*test\.md:(\d+):(\d+):([\w.]+):(.*)$")


def expected_alerts(feature: Path) -> dict[str, set[tuple[int, int, str, str]]]:
    """Fixture name -> expected alerts; commented-out scenarios are not part of the suite."""
    found: dict[str, set[tuple[int, int, str, str]]] = {}
    current: str | None = None
    for line in feature.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#"):
            continue
        scenario = _SCENARIO.match(line)
        if scenario:
            current = scenario.group(1)
            found.setdefault(current, set())
            continue
        alert = _ALERT.match(line)
        if alert and current:
            row, column, rule, message = alert.groups()
            found[current].add((int(row), int(column), rule, message))
    return found


def enabled_rules(fixture: Path) -> set[str]:
    parser = configparser.ConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string("[root]\n" + (fixture / ".vale.ini").read_text(encoding="utf-8"))
    return {key for section in parser.sections() for key, value in parser[section].items()
            if "." in key and value.strip().upper() == "YES"}  # fmt: skip


def conformance(
    style_name: str, *, prefilter: bool = True, match_case: bool = True
) -> tuple[int, int, list[str], list[str]]:
    """(expected alerts of supported kinds, matched exactly, misses, extras).

    ``match_case=False``: substitutions capitalise suggestions as current Vale does (only
    with ``capitalize: true``) instead of following a capitalised match.
    """
    root = VALE / style_name
    style = load_style(root / style_name)
    for check in style.checks:
        if isinstance(check, Substitution):
            check.match_case = match_case
    skipped = {name for name, _ in style.skipped}
    expected = expected_alerts(root / "features" / "rules.feature")
    total = matched = 0
    misses: list[str] = []
    extras: list[str] = []
    for fixture_name, alerts in sorted(expected.items()):
        fixture = root / "fixtures" / fixture_name
        text = (fixture / "test.md").read_text(encoding="utf-8")
        only = enabled_rules(fixture) - skipped
        got = set()
        for alert in run([style], [text], only=only, prefilter=prefilter):
            row, column = line_and_column(text, alert.start)
            got.add((row, column, alert.rule, alert.message))
        wanted = {a for a in alerts if a[2] not in skipped}
        total += len(wanted)
        matched += len(wanted & got)
        misses += [f"{fixture_name}: {a}" for a in sorted(wanted - got)]
        extras += [f"{fixture_name}: {a}" for a in sorted(got - wanted)]
    return total, matched, misses, extras


# The exact rate each suite reaches (see docs/voice.md, "Vale styles"): Google's one miss is
# its Contractions alert on "It is" opening a line, written by a Vale that left the
# suggestion in lower case ("it's"), where Microsoft's suite (and dslint) capitalise it.
EXACT = {"Google": 50 / 51, "Microsoft": 127 / 127}
GOOGLE_MISS = "Contractions: (3, 1, 'Google.Contractions', \"Use 'it's' instead of 'It is'.\")"
GOOGLE_EXTRA = GOOGLE_MISS.replace("'it's'", "'It's'")


def only_capitalised(misses: list[str], extras: list[str]) -> bool:
    """Every miss is an extra whose suggestion (the first quoted word) is capitalised."""

    def uncapitalise(line: str) -> str:
        head, quote, rest = line.partition("Use '")
        return head + quote + rest[:1].lower() + rest[1:]

    return len(misses) == len(extras) and sorted(misses) == sorted(map(uncapitalise, extras))


@needs_vale
@pytest.mark.parametrize("style_name", STYLES)
def test_conformance_with_vale(style_name: str) -> None:
    total, matched, misses, extras = conformance(style_name)
    rate = matched / total
    print(f"\n{style_name}: {matched}/{total} expected alerts matched exactly ({rate:.1%}); "
          f"{len(extras)} extra")  # fmt: skip
    for line in misses:
        print("  missed:", line)
    for line in extras:
        print("  extra: ", line)
    assert total > 20
    assert rate >= EXACT[style_name] >= TARGET
    assert only_capitalised(misses, extras)


@needs_vale
def test_the_two_suites_want_opposite_capitalisation() -> None:
    """No one setting fits both suites, and the misses are exactly that difference.

    Same rule (Contractions: ``ignorecase``, ``replace``, no ``capitalize``), same situation
    (a capitalised match opening a line): Microsoft's suite capitalises the suggestion,
    Google's does not. Following the match's case (dslint), Microsoft matches fully and
    Google misses that one alert; as current Vale (``match_case=False``), Microsoft misses 24.
    """
    ms_total, ms_matched, ms_misses, ms_extras = conformance("Microsoft")
    assert (ms_matched, ms_misses, ms_extras) == (ms_total, [], [])
    g_total, g_matched, g_misses, g_extras = conformance("Google")
    assert (g_matched, g_misses, g_extras) == (g_total - 1, [GOOGLE_MISS], [GOOGLE_EXTRA])
    total = ms_total + g_total
    print(f"\nboth suites: {ms_matched + g_matched}/{total} expected alerts matched exactly")
    assert (ms_matched + g_matched) / total >= TARGET
    g_total, g_matched, g_misses, g_extras = conformance("Google", match_case=False)
    assert (g_matched, g_misses, g_extras) == (g_total, [], [])
    ms_total, ms_matched, ms_misses, ms_extras = conformance("Microsoft", match_case=False)
    assert ms_matched == ms_total - 24 and only_capitalised(ms_extras, ms_misses)


@needs_vale
@pytest.mark.parametrize("style_name", STYLES)
def test_prefilter_keeps_every_alert_of_the_suite(style_name: str) -> None:
    assert conformance(style_name, prefilter=True) == conformance(style_name, prefilter=False)


@needs_vale
def test_unsupported_kinds_are_listed_not_dropped() -> None:
    style = load_style(VALE / "Google" / "Google")
    kinds = {kind for _, kind in style.skipped}
    assert kinds <= {"spelling", "sequence", "script", "metric"}
    assert ("Google.Spelling", "spelling") in style.skipped or not kinds
    assert len(style.checks) + len(style.skipped) == len(
        list((VALE / "Google" / "Google").glob("*.yml"))
    )

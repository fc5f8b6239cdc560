"""Progress on stderr: only on a terminal, only for long runs, never in CI or pre-commit."""

from __future__ import annotations

import io

import pytest

from dslint import cli


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    # Progress writes to the stream passed in, so pytest's own capture of sys.stderr (which
    # it swaps between a test's phases) cannot interfere.
    stream = Terminal()
    monkeypatch.setattr(cli.Progress, "stream", staticmethod(lambda: stream))
    for name in ("CI", "GITHUB_ACTIONS", "PRE_COMMIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cli.Progress, "DELAY", 0.0)
    return stream


def test_progress_shows_and_clears_on_a_terminal(terminal: Terminal) -> None:
    progress = cli.Progress(enabled=True)
    progress.show("reading train.jsonl: 10,000 lines")
    assert "dslint: reading train.jsonl: 10,000 lines" in terminal.getvalue()
    progress.clear()
    assert terminal.getvalue().endswith("\r\x1b[K")


@pytest.mark.parametrize("variable", ["CI", "GITHUB_ACTIONS", "PRE_COMMIT"])
def test_never_in_ci_or_pre_commit(
    terminal: Terminal, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "1")
    cli.Progress(enabled=True).show("reading")
    assert terminal.getvalue() == ""


def test_not_with_quiet_not_off_a_terminal_and_not_for_short_runs(
    terminal: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.Progress(enabled=False).show("reading")  # --quiet
    assert terminal.getvalue() == ""
    monkeypatch.setattr(cli.Progress, "DELAY", 3600.0)
    cli.Progress(enabled=True).show("reading")  # a short run
    assert terminal.getvalue() == ""
    plain = io.StringIO()  # not a terminal
    monkeypatch.setattr(cli.Progress, "stream", staticmethod(lambda: plain))
    progress = cli.Progress(enabled=True)
    assert not progress.enabled


def test_the_engine_reports_its_stages(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dslint
    from conftest import TODAY, clean_chat, jsonl

    path = tmp_path / "d.jsonl"
    path.write_text(jsonl(*clean_chat(50)))
    seen: list[str] = []
    dslint.check([path], today=TODAY, progress=seen.append, select=["D001", "S"])
    assert "D001 exact-duplicate" in seen

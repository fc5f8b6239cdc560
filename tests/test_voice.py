"""Voice rules V001-V013: pass/fail cases asserting (code, line, pointer, column)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, SHARED, chat, jsonl, write_style
from dslint.config import ConfigError
from dslint.finding import Finding, Severity

ASSISTANT = "/messages/1/content"


def spans(findings: list[Finding], *codes: str) -> list[tuple[str, int | None, str, int | None]]:
    return [(f.code, f.line, f.pointer, f.column) for f in findings if f.code in codes]


def column_of(example: dict[str, Any], needle: str, pointer_index: int = 1) -> int:
    """1-based column in the JSONL line of ``needle`` inside message ``pointer_index``."""
    line = json.dumps(example)
    content = json.dumps(example["messages"][pointer_index]["content"])
    start = line.index(content)
    return start + content.index(needle) + 1


def write_profile(tmp_path: Path, body: str, extra: str = "") -> None:
    (tmp_path / "brand.toml").write_text(body, encoding="utf-8")
    (tmp_path / "dslint.toml").write_text(
        f'[tool.dslint.voice]\nprofile = "brand.toml"\n{extra}', encoding="utf-8"
    )


def normal_replies(count: int = 40) -> list[dict[str, Any]]:
    return [
        chat(f"Question {i} about invoices?",
             f"Thanks for asking about invoice {i}. You can download it from the billing page, "
             f"and we keep a copy for seven years.")
        for i in range(count)
    ]  # fmt: skip


# -- profile terms (V001-V003, V006, V007) ------------------------------------------------
def test_banned_term_points_at_the_term(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_profile(
        tmp_path, "[terms]\nbanned = [\"synergy\"]\nbanned-patterns = ['(?i)\\bdear sir\\b']\n"
    )
    bad = chat("Hi", "We love the Synergy here. Dear Sir, thanks.")
    findings = lint(jsonl(chat("Hi", "Plain answer."), bad), select=["V001"])
    assert spans(findings, "V001") == [
        ("V001", 2, ASSISTANT, column_of(bad, "Synergy")),
        ("V001", 2, ASSISTANT, column_of(bad, "Dear Sir")),
    ]
    assert "profile 'brand' [terms.banned]" in findings[0].message


def test_banned_term_is_whole_word_only(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_profile(tmp_path, '[terms]\nbanned = ["leverage"]\n')
    assert not lint(jsonl(chat("Hi", "Leveraged buyouts are a finance topic.")), select=["V001"])


def test_preferred_term_gives_the_preferred_form(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_profile(tmp_path, '[terms.preferred]\n"log in" = "sign in"\n')
    bad = chat("How?", "First, Log  In with your account.")
    findings = lint(jsonl(bad, chat("How?", "First, sign in.")), select=["V002"])
    assert spans(findings, "V002") == [("V002", 1, ASSISTANT, column_of(bad, "Log  In"))]
    assert "'sign in'" in findings[0].message


def test_brand_casing(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_profile(tmp_path, '[brands]\nnames = ["AcmeCloud", "iPhone"]\n')
    bad = chat("Which?", "Use acmecloud on your iPhone or your IPHONE.")
    findings = lint(jsonl(bad, chat("Which?", "Use AcmeCloud on your iPhone.")), select=["V003"])
    assert spans(findings, "V003") == [
        ("V003", 1, ASSISTANT, column_of(bad, "acmecloud")),
        ("V003", 1, ASSISTANT, column_of(bad, "IPHONE")),
    ]


def test_persona_without_profile(lint) -> None:  # type: ignore[no-untyped-def]
    bad = chat("Who are you?", "Well, I'm ChatGPT, and as an AI language model I can help.")
    findings = lint(jsonl(chat("Who?", "I'm the Acme assistant."), bad), select=["V006"])
    assert spans(findings, "V006") == [
        ("V006", 2, ASSISTANT, column_of(bad, "I'm ChatGPT")),
        ("V006", 2, ASSISTANT, column_of(bad, "as an AI")),
    ]


def test_persona_other_name_and_own_name(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_profile(tmp_path, '[persona]\nname = "Ava"\n')
    bad = chat("Name?", "Hello, my name is Max and I help.")
    good = chat("Name?", "Hello, my name is Ava and I help.")
    findings = lint(jsonl(good, bad), select=["V006"])
    assert spans(findings, "V006") == [("V006", 2, ASSISTANT, column_of(bad, "my name is Max"))]
    assert "'Ava'" in findings[0].message


def test_either_or_reports_the_minority(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_profile(tmp_path, '[consistency]\neither = [["email", "e-mail"]]\n')
    majority = [chat("How?", f"Send an email to desk {i}.") for i in range(3)]
    minority = chat("How?", "Send an e-mail to us.")
    findings = lint(jsonl(*majority, minority), select=["V007"])
    assert spans(findings, "V007") == [("V007", 4, ASSISTANT, column_of(minority, "e-mail"))]
    assert "'email'" in findings[0].message


def test_either_or_quiet_when_one_form(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_profile(tmp_path, '[consistency]\neither = [["email", "e-mail"]]\n')
    assert not lint(jsonl(*[chat("How?", f"Email {i}.") for i in range(3)]), select=["V007"])


def test_profile_roles_are_respected(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_profile(tmp_path, '[terms]\nbanned = ["synergy"]\n')
    assert not lint(jsonl(chat("synergy?", "Fine.")), select=["V001"])
    write_profile(tmp_path, '[profile]\nroles = ["user"]\n[terms]\nbanned = ["synergy"]\n')
    found = lint(jsonl(chat("synergy?", "Fine.")), select=["V001"])
    assert [(f.code, f.line, f.pointer) for f in found] == [("V001", 1, "/messages/0/content")]


# -- limits, readability, required (V004, V005, V008) ---------------------------------------
def test_message_limits(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_profile(tmp_path, "[limits]\nmax-exclamations = 1\nmax-emoji = 0\nmax-questions = 1\n")
    findings = lint(jsonl(chat("Hi", "Great! Really great!"), chat("Hi", "Sure 😀"),
                          chat("Hi", "Why? How? Where?"), chat("Hi", "Fine!")),
                    select=["V004"])  # fmt: skip
    assert sorted((f.code, f.line, f.pointer) for f in findings) == [
        ("V004", 1, ASSISTANT), ("V004", 2, ASSISTANT), ("V004", 3, ASSISTANT),
    ]  # fmt: skip
    assert "max-emoji" in findings[1].message


def test_message_word_limits(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_profile(tmp_path, "[limits]\nmax-message-words = 5\nmax-sentence-words = 4\n")
    findings = lint(jsonl(chat("Hi", "One two three. Four five six."),
                          chat("Hi", "Short one.")), select=["V004"])  # fmt: skip
    assert [(f.code, f.line) for f in findings] == [("V004", 1)]


def test_readability_bounds(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_profile(tmp_path, "[readability]\nmax-grade = 8\nmin-words = 10\n")
    dense = ("Notwithstanding contractual indemnification obligations, organisational "
             "representatives institutionalise comprehensive jurisdictional interpretations "
             "characterising multidimensional regulatory considerations.")  # fmt: skip
    plain = "You can pay by card or by bank. We send the bill on the first day of the month."
    findings = lint(jsonl(chat("Hi", plain), chat("Hi", dense)), select=["V005"])
    assert [(f.code, f.line, f.pointer) for f in findings] == [("V005", 2, ASSISTANT)]


def test_required_sign_off(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_profile(tmp_path, "[[required]]\nname = \"sign-off\"\npattern = '— Acme\\Z'\n")
    findings = lint(jsonl(chat("Hi", "Done.\n— Acme"), chat("Hi", "Done.")), select=["V008"])
    assert [(f.code, f.line, f.pointer) for f in findings] == [("V008", 2, ASSISTANT)]


# -- system prompt drift (V009, V010) --------------------------------------------------------
PROMPT = "You are Ava, the friendly support assistant of Acme. Answer briefly and politely."


def test_system_prompt_variant_points_at_the_difference(lint) -> None:  # type: ignore[no-untyped-def]
    rows = [chat(f"Q{i}", f"A{i}.", system=PROMPT) for i in range(8)]
    edited = PROMPT.replace("briefly", "brefly")
    variant = chat("Q", "A.", system=edited)
    other = chat("Q", "A.", system="Translate everything into French.")
    report = lint(jsonl(*rows, variant, other), select=["V009"])
    line = json.dumps(variant)
    position = [a == b for a, b in zip(PROMPT, edited, strict=False)].index(False)
    column = line.index(json.dumps(edited)) + 1 + position + 1
    assert spans(report, "V009") == [("V009", 9, "/messages/0/content", column)]


def test_system_prompt_missing(lint) -> None:  # type: ignore[no-untyped-def]
    rows = [chat(f"Q{i}", f"A{i}.", system=PROMPT) for i in range(9)]
    findings = lint(jsonl(*rows, chat("Q", "A.")), select=["V010"])
    assert [(f.code, f.line) for f in findings] == [("V010", 10)]
    assert not lint(jsonl(*rows[:5], *[chat(f"Q{i}", "A.") for i in range(5)]), select=["V010"])


def test_one_system_prompt_is_quiet(lint) -> None:  # type: ignore[no-untyped-def]
    rows = [chat(f"Q{i}", f"A{i}.", system=PROMPT) for i in range(10)]
    assert not lint(jsonl(*rows), select=["V009", "V010"])


# -- tone outliers (V011) --------------------------------------------------------------------
def test_tone_outlier_names_the_features(lint) -> None:  # type: ignore[no-untyped-def]
    rows = normal_replies()
    loud = chat("Question?", "OMG!!! THIS IS AMAZING!!! WE LOVE IT!!! 🎉🎉🎉 BEST DAY EVER!!!")
    findings = lint(jsonl(*rows, loud), select=["V011"])
    assert [(f.code, f.line, f.pointer) for f in findings] == [("V011", 41, ASSISTANT)]
    assert "exclamation" in findings[0].message and "z=" in findings[0].message


def test_tone_is_quiet_on_homogeneous_data(lint) -> None:  # type: ignore[no-untyped-def]
    assert not lint(jsonl(*normal_replies(60)), select=["V011"])


def test_tone_that_varies_widely_is_one_summary(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    loud = "OMG!!! THIS IS AMAZING!!! WE LOVE IT!!! 🎉🎉🎉 BEST DAY EVER!!!"
    rows = [*normal_replies(40), *(chat(f"Question {i}?", f"{loud} #{i}") for i in range(4))]
    findings = lint(jsonl(*rows), select=["V011"])
    assert [(f.code, f.line) for f in findings] == [("V011", None)]
    assert findings[0].path.endswith("data.jsonl")
    assert "4 of 44 replies (9%)" in findings[0].message
    assert "exclamation" in findings[0].message
    # Allowing a larger share lists each reply again.
    (tmp_path / "dslint.toml").write_text("[tool.dslint.rules.V011]\nmax-share = 0.1\n")
    listed = lint(jsonl(*rows), select=["V011"])
    assert [(f.code, f.line) for f in listed] == [("V011", line) for line in range(41, 45)]


def test_tone_needs_enough_messages(lint) -> None:  # type: ignore[no-untyped-def]
    loud = chat("Question?", "OMG!!! THIS IS AMAZING!!! WE LOVE IT!!! 🎉🎉🎉 BEST DAY EVER!!!")
    assert not lint(jsonl(*normal_replies(5), loud), select=["V011"])


# -- language (V012) -------------------------------------------------------------------------
PT = [
    "O contrato estabelece que o locatário deve pagar o aluguel até o quinto dia útil de cada mês.",
    "A cláusula de rescisão permite que qualquer das partes encerre o acordo com aviso prévio.",
    "O documento resume as obrigações do fornecedor quanto à entrega e à garantia dos produtos.",
    "Segundo a decisão, o tribunal reconheceu o direito do autor à indenização por danos morais.",
]
EN = (
    "The contract states that the tenant must pay the rent by the fifth business day of each month."
)


def test_language_dominant_per_role(lint) -> None:  # type: ignore[no-untyped-def]
    rows = [chat("Resuma o documento.", PT[i % 4]) for i in range(8)]
    findings = lint(jsonl(*rows, chat("Resuma o documento.", EN)), select=["V012"])
    assert [(f.code, f.line, f.pointer) for f in findings] == [("V012", 9, ASSISTANT)]
    assert "'en'" in findings[0].message and "'pt'" in findings[0].message


def test_language_configured(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "dslint.toml").write_text('[tool.dslint.voice]\nlanguage = "pt"\n')
    findings = lint(jsonl(chat("Hi", EN), chat("Oi", PT[0])), select=["V012"])
    assert [(f.code, f.line) for f in findings] == [("V012", 1)]


def test_language_quiet_on_short_and_mixed(lint) -> None:  # type: ignore[no-untyped-def]
    rows = [chat("Resuma.", PT[i % 4]) for i in range(8)]
    short = chat("Ok?", "Ok, thanks!")
    mixed = chat("?", "Sure! Aqui está: the contract says que o prazo é de 30 days.")
    assert not lint(jsonl(*rows, short, mixed), select=["V012"])


def test_language_reads_a_long_reply_to_its_end(lint) -> None:  # type: ignore[no-untyped-def]
    """A reply that quotes the sentence it was asked about, then explains in the dataset's
    language, is not in another language; one written wholly in it is."""
    rows = [chat("Resuma o documento.", PT[i % 4] * 2) for i in range(8)]
    quoting = chat(
        "Is this a correct translation?",
        "The English sentence is: " + " ".join([EN] * 4) + " " + " ".join(PT) * 2,
    )
    foreign = chat("Resuma o documento.", " ".join([EN] * 12))
    findings = lint(jsonl(*rows, quoting, foreign), select=["V012"])
    assert len(quoting["messages"][1]["content"]) > 400
    assert [(f.code, f.line) for f in findings] == [("V012", 10)]


def test_voice_leaves_rejected_dpo_answers_alone(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The non-preferred answer is what the model learns not to say: an off-brand term or
    another language there is the point of the example."""
    write_profile(tmp_path, '[terms]\nbanned = ["synergy"]\n')

    def dpo(preferred: str, rejected: str) -> dict[str, Any]:
        return {
            "input": {"messages": [{"role": "user", "content": "Resuma o documento."}]},
            "preferred_output": [{"role": "assistant", "content": preferred}],
            "non_preferred_output": [{"role": "assistant", "content": rejected}],
        }

    lines = [dpo(PT[i % 4], EN + " Synergy!") for i in range(8)]
    lines.append(dpo(PT[0] + " Synergy.", PT[1]))
    findings = lint(jsonl(*lines), select=["V001", "V012"])
    assert [(f.code, f.line, f.pointer) for f in findings] == [
        ("V001", 9, "/preferred_output/0/content")
    ]


# -- Vale styles (V013) ----------------------------------------------------------------------


def test_vale_style_alerts_with_level_and_span(tmp_path: Path) -> None:
    from dslint.api import check

    write_style(tmp_path)
    bad = chat("How?", "Perhaps you should Log in first. Don't `log in` as root.")
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(chat("How?", "Sign in first."), bad))
    report = check([path], select=["V013"])
    findings = list(report.findings)
    assert spans(findings, "V013") == [
        ("V013", 2, ASSISTANT, column_of(bad, "Perhaps")),
        ("V013", 2, ASSISTANT, column_of(bad, "Log in")),
    ]
    assert [f.severity for f in findings] == [Severity.INFO, Severity.ERROR]
    # The suggestion follows the capitalised match (docs/voice.md, "Vale styles").
    assert "Use 'Sign in' instead of 'Log in'." in findings[1].message
    assert "House.Terms" in findings[1].message
    assert any("House.Spelling (spelling)" in note for note in report.notes)


def test_vale_min_level(tmp_path: Path) -> None:
    from dslint.api import check

    write_style(tmp_path)
    with open(tmp_path / "dslint.toml", "a") as fh:
        fh.write('vale-min-level = "warning"\n')
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(chat("How?", "Perhaps log in.")))
    assert [f.code for f in check([path], select=["V013"]).findings] == ["V013"]


# -- configuration ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "profile", "needle"),
    [
        ("colour = 1\n", None, "'colour'"),
        ('profile = "missing.toml"\n', None, "missing.toml"),
        ('vale = ["nowhere"]\n', None, "nowhere"),
        ('language = "portuguese"\n', None, "language"),
        ('profile = "brand.toml"\n', "[limits]\nmax-exclaim = 1\n", "'max-exclaim'"),
        ('profile = "brand.toml"\n', "[tone]\n", "[tone]"),
        ('profile = "brand.toml"\n', "[terms]\nbanned-patterns = ['(']\n", "invalid pattern"),
    ],
)
def test_bad_voice_config_is_a_config_error(lint, tmp_path: Path, config: str,  # type: ignore[no-untyped-def]
                                            profile: str | None, needle: str) -> None:  # fmt: skip
    (tmp_path / "dslint.toml").write_text("[tool.dslint.voice]\n" + config)
    if profile is not None:
        (tmp_path / "brand.toml").write_text(profile)
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("(", r"\(")):
        lint(jsonl(chat()), select=["V001", "V013"])


def test_example_profile_loads_and_fires(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    example = (ROOT / "rules" / "voice" / "example.toml").read_text(encoding="utf-8")
    write_profile(tmp_path, example)
    findings = lint(jsonl(chat("Hi", "Please log in to your acmecloud account. No worries!")),
                    select=["V"])  # fmt: skip
    assert {f.code for f in findings} >= {"V001", "V002", "V003"}


@pytest.mark.skipif(not (SHARED / "vale").is_dir(), reason="../shared/vale is absent")
def test_vale_microsoft_style_through_the_engine(lint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = SHARED / "vale" / "Microsoft" / "Microsoft"
    (tmp_path / "dslint.toml").write_text(f'[tool.dslint.voice]\nvale = ["{folder.as_posix()}"]\n')
    bad = chat("Help?", "You cannot do that.")
    findings = lint(jsonl(bad), select=["V013"])
    assert ("V013", 1, ASSISTANT, column_of(bad, "cannot")) in spans(findings, "V013")


def test_the_language_model_loads_while_the_files_are_read(lint, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading

    from dslint.config import Config
    from dslint.engine import Engine
    from dslint.rules.voice import language

    loaders: list[str] = []
    real = language._load_identifier.__wrapped__

    def spy() -> object:
        loaders.append(threading.current_thread().name)
        return real()

    monkeypatch.setattr(language, "_load_identifier", functools.cache(spy))
    Engine(Config(select=("V012",)))._warm_up()
    for thread in threading.enumerate():
        if thread.name == "dslint-warm-up":
            thread.join()
    assert loaders == ["dslint-warm-up"]
    # The run then uses the loaded model: it is not loaded again.
    assert lint(jsonl(*normal_replies(40)), select=["V012"]) == []
    assert loaders == ["dslint-warm-up"]

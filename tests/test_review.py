"""The LLM review (V501, M501, M502), through the real ``openai`` client and a local server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import TODAY, chat, jsonl, located
from dslint import cli as cli_module
from dslint.api import check
from dslint.config import ConfigError
from dslint.finding import Category, Finding, Severity
from dslint.review import cost, guidelines
from dslint.review.client import ReviewError, ReviewNotConfirmed, find_span
from dslint.review.settings import ReviewSettings
from review_server import ReviewServer, completion, reply_of, serve

GUIDELINES = """\
# ACME Garden support
ACME sells garden tools online.

## Voice
Warm and plain; never sarcastic,
never cold.
- [no-jargon] No internal jargon such as RMA or SKU.

## Policy
- [no-refunds] Never promise a refund; billing decides.
- No legal advice.
"""
IDS = ["voice-1", "no-jargon", "no-refunds", "policy-2"]
REVIEW_CODES = ["V501", "M501", "M502"]


@pytest.fixture(autouse=True)
def no_real_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CI", "GITHUB_ACTIONS", "PRE_COMMIT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[ReviewServer]:
    state = ReviewServer(triggers={"no-refunds": "we will refund", "no-jargon": "RMA"})
    with serve(state) as running:
        yield running


@pytest.fixture
def project(tmp_path: Path, server: ReviewServer):  # type: ignore[no-untyped-def]
    """project(**review_keys) writes dslint.toml + guidelines.md; returns the folder."""

    def write(**keys: Any) -> Path:
        (tmp_path / "guidelines.md").write_text(GUIDELINES, encoding="utf-8")
        values = {
            "mode": "llm",
            "guidelines": "guidelines.md",
            "base-url": server.url,
            "cache-dir": "cache",
            "max-retries": 1,
            "timeout": 5,
            "confirm-above": 100,
            **keys,
        }
        lines = ["[review]"] + [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        (tmp_path / "dslint.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return tmp_path

    return write


def review(folder: Path, *examples: Any, **kwargs: Any) -> list[Finding]:
    path = folder / "data.jsonl"
    if examples:
        path.write_text(jsonl(*examples), encoding="utf-8")
    kwargs.setdefault("select", REVIEW_CODES)
    return list(check([path], today=TODAY, **kwargs).findings)


def raw_span(folder: Path, finding: Finding) -> str:
    """The raw text a finding's columns cover in its line (escapes as written)."""
    line = (folder / "data.jsonl").read_text(encoding="utf-8").splitlines()[finding.line - 1]  # type: ignore[operator]
    assert finding.column is not None and finding.end_column is not None
    return line[finding.column - 1 : finding.end_column - 1]


# -- guidelines ------------------------------------------------------------------------------
def test_guidelines_file_parsed_into_kinds_and_ids() -> None:
    parsed = guidelines.parse(GUIDELINES)
    assert [(g.id, g.kind) for g in parsed.items] == [
        ("voice-1", "voice"),
        ("no-jargon", "voice"),
        ("no-refunds", "policy"),
        ("policy-2", "policy"),
    ]
    assert parsed.items[0].text == "Warm and plain; never sarcastic, never cold."
    assert parsed.items[2].text == "Never promise a refund; billing decides."
    assert parsed.background == "# ACME Garden support\nACME sells garden tools online."


def test_guidelines_hash_follows_meaning_not_layout() -> None:
    reflowed = GUIDELINES.replace("sarcastic,\nnever cold.", "sarcastic, never cold.")
    assert guidelines.parse(reflowed).hash == guidelines.parse(GUIDELINES).hash
    edited = GUIDELINES.replace("No legal advice.", "No legal or tax advice.")
    assert guidelines.parse(edited).hash != guidelines.parse(GUIDELINES).hash


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("# About\nJust prose, no guideline headings.\n", "no guidelines"),
        ("## Policy\n- [same] One.\n- [same] Two.\n", "two guidelines are named [same]"),
        ("## Policy\n- [empty]\n", "[empty] has no text"),
    ],
)
def test_bad_guidelines_are_one_line_errors(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace("[", r"\[").replace("]", r"\]")):
        guidelines.parse(text)


# -- verdicts to findings --------------------------------------------------------------------
def test_verdicts_become_located_findings(project, server: ReviewServer) -> None:  # type: ignore[no-untyped-def]
    folder = project()
    findings = review(
        folder,
        chat("Can I get my money back?", "Café closed? Sure, we will refund you today."),
        chat("Where is my parcel?", "Your RMA is on its way."),
        chat("Hello", "Hello! How can we help?"),
    )
    assert located(findings) == [
        ("M501", 1, "/messages/1/content"),
        ("V501", 2, "/messages/1/content"),
    ]
    policy, voice = findings
    assert (policy.category, policy.severity) == (Category.MODERATION, Severity.ERROR)
    assert (voice.category, voice.severity) == (Category.VOICE, Severity.WARNING)
    assert "[no-refunds]" in policy.message and "[no-jargon]" in voice.message
    # The span is the quoted passage, mapped through the JSON escape of "é" before it.
    assert raw_span(folder, policy) == "we will refund"
    assert "\\u00e9" in (folder / "data.jsonl").read_text().splitlines()[0]
    assert raw_span(folder, voice) == "RMA"
    assert len(server.requests) == 3


def test_request_cites_guidelines_with_a_strict_schema(project, server: ReviewServer) -> None:  # type: ignore[no-untyped-def]
    free = {"price-per-million-input": 0, "price-per-million-output": 0}
    review(project(model="judge-1", **free), chat("Can I sue my landlord?", "Talk to a lawyer."))
    (request,) = server.requests
    assert request["model"] == "judge-1"
    assert request["temperature"] == 0
    response_format = request["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    verdict = response_format["json_schema"]["schema"]["properties"]["verdicts"]["items"]
    assert verdict["properties"]["guideline"]["enum"] == IDS
    assert set(verdict["required"]) == {"guideline", "reason", "pass", "quote"}
    system = request["messages"][0]["content"]
    for guideline_id in IDS:
        assert f"[{guideline_id}]" in system
    assert "ACME sells garden tools online." in system
    user = request["messages"][1]["content"]
    assert "[user] Can I sue my landlord?" in user  # the question is sent as context
    assert reply_of(request) == "Talk to a lawyer."


def test_quote_not_in_reply_gives_a_finding_without_span(project, server: ReviewServer) -> None:  # type: ignore[no-untyped-def]
    server.quotes["no-refunds"] = "a sentence the reply does not contain"
    folder = project()
    (finding,) = review(folder, chat("Money back?", "Yes, we will refund it."))
    assert located([finding]) == [("M501", 1, "/messages/1/content")]
    assert finding.end_column is None


def test_only_trained_replies_are_judged(project, server: ReviewServer) -> None:  # type: ignore[no-untyped-def]
    folder = project()
    skipped = {
        "messages": [
            {"role": "user", "content": "Refund?"},
            {"role": "assistant", "content": "Old: we will refund.", "weight": 0},
            {"role": "user", "content": "And now?"},
            {"role": "assistant", "content": "Now: we will refund."},
        ]
    }
    preference = {
        "input": {"messages": [{"role": "user", "content": "Refund?"}]},
        "preferred_output": [{"role": "assistant", "content": "Billing decides."}],
        "non_preferred_output": [{"role": "assistant", "content": "Sure, we will refund."}],
    }
    findings = review(folder, skipped, preference, "not json")
    assert located(findings) == [("M501", 1, "/messages/3/content")]
    assert sorted(reply_of(r) for r in server.requests) == [
        "Billing decides.",
        "Now: we will refund.",
    ]


def test_identical_replies_are_sent_once(project, server: ReviewServer) -> None:  # type: ignore[no-untyped-def]
    folder = project()
    findings = review(folder, *[chat("Refund?", "Sure, we will refund.")] * 3)
    assert located(findings) == [("M501", line, "/messages/1/content") for line in (1, 2, 3)]
    assert len(server.requests) == 1


# -- what could not be judged ----------------------------------------------------------------
def _verdicts(*items: dict[str, Any]) -> str:
    return json.dumps({"verdicts": list(items)})


def _all_pass(skip: str = "") -> list[dict[str, Any]]:
    return [{"guideline": g, "reason": "ok", "pass": True, "quote": ""} for g in IDS if g != skip]


@pytest.mark.parametrize(
    "answer",
    [
        completion("I think the reply is fine."),
        completion(json.dumps({"verdict": "pass"})),
        completion(
            _verdicts(
                *_all_pass(), {"guideline": "made-up", "reason": "x", "pass": False, "quote": ""}
            )
        ),
        completion(_verdicts(*_all_pass(skip="policy-2"))),
        completion(_verdicts({"guideline": "voice-1", "reason": "x", "pass": "no", "quote": ""})),
        completion(_verdicts(*_all_pass())[:40], finish_reason="length"),
        completion(None, refusal="I can't help with that."),
        completion(""),
        {"object": "error"},
        "<html>gateway</html>",
    ],
    ids=[
        "prose",
        "wrong-shape",
        "unknown-guideline",
        "guideline-left-out",
        "pass-not-bool",
        "cut-short",
        "refusal",
        "empty",
        "not-a-completion",
        "not-json",
    ],
)
def test_malformed_answer_means_not_reviewed(project, server: ReviewServer, answer: Any) -> None:  # type: ignore[no-untyped-def]
    server.answer = lambda request: (200, answer, {})
    folder = project()
    findings = review(folder, chat("Refund?", "Sure, we will refund."))
    assert located(findings) == [("M502", 1, "/messages/1/content")]
    # Not cached: the next run asks again, and a good answer then settles it.
    server.answer = None
    assert located(review(folder)) == [("M501", 1, "/messages/1/content")]
    assert len(server.requests) == 2


def test_server_errors_are_retried_then_reported(project, server: ReviewServer) -> None:  # type: ignore[no-untyped-def]
    server.answer = lambda request: (503, {"error": {"message": "busy"}}, {"retry-after-ms": "1"})
    folder = project(**{"max-retries": 2})
    findings = review(folder, chat("Refund?", "Sure, we will refund."))
    assert located(findings) == [("M502", 1, "/messages/1/content")]
    assert "HTTP 503 after 2 retries" in findings[0].message
    assert len(server.requests) == 3  # the first try and two retries


def test_wrong_key_stops_the_review(project, server: ReviewServer) -> None:  # type: ignore[no-untyped-def]
    server.answer = lambda request: (401, {"error": {"message": "bad key"}}, {})
    folder = project()
    with pytest.raises(ReviewError, match="HTTP 401"):
        review(folder, *[chat(f"Q{i}?", f"Answer {i}.") for i in range(5)])


def test_unreachable_server_means_not_reviewed(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = project(**{"base-url": "http://127.0.0.1:9/v1", "max-retries": 0, "timeout": 1})
    findings = review(folder, chat("Refund?", "Sure, we will refund."))
    assert located(findings) == [("M502", 1, "/messages/1/content")]
    assert "could not connect" in findings[0].message


# -- cache, concurrency, sampling ------------------------------------------------------------
def test_cache_hit_on_rerun_and_miss_on_new_model_or_guidelines(
    project, server: ReviewServer
) -> None:  # type: ignore[no-untyped-def]
    folder = project()
    examples = [chat("Refund?", "Sure, we will refund."), chat("Hi", "Hello there!")]
    first = review(folder, *examples)
    assert len(server.requests) == 2
    again = review(folder)
    assert len(server.requests) == 2  # nothing sent
    assert again == first  # same findings, span included, from the cache
    assert raw_span(folder, again[0]) == "we will refund"

    (folder / "data.jsonl").write_text(jsonl(*examples, chat("New?", "A new reply.")))
    review(folder)
    assert len(server.requests) == 3  # only the new reply

    project(model="gpt-4o-mini")
    review(folder)
    assert len(server.requests) == 6

    (folder / "guidelines.md").write_text(GUIDELINES + "- Never name a competitor.\n")
    review(folder)
    assert len(server.requests) == 9
    cached = (folder / "cache" / "verdicts.sqlite3").read_bytes()
    assert b"we will refund" not in cached  # spans are kept, not the dataset's text


def test_concurrency_is_bounded(project, server: ReviewServer) -> None:  # type: ignore[no-untyped-def]
    server.delay = 0.05
    folder = project(concurrency=2)
    review(folder, *[chat(f"Question {i}?", f"Answer {i}.") for i in range(6)])
    assert len(server.requests) == 6
    assert 1 <= server.max_in_flight <= 2


def test_sample_is_fixed_and_stable_under_edits(project, server: ReviewServer) -> None:  # type: ignore[no-untyped-def]
    folder = project()
    examples = [chat(f"Question {i}?", f"Answer {i}.") for i in range(12)]
    review(folder, *examples, sample=4)
    first = {reply_of(r) for r in server.requests}
    assert len(first) == 4
    server.requests.clear()
    (folder / "cache" / "verdicts.sqlite3").unlink()
    review(folder, chat("Inserted?", "Inserted answer."), *examples, sample=4)
    second = {reply_of(r) for r in server.requests}
    assert len(second) == 4
    # The choice follows content, not line numbers: inserting a line keeps the others.
    assert len(first & second) >= 3


def test_review_off_sends_nothing(tmp_path: Path, server: ReviewServer) -> None:
    findings = review(tmp_path, chat("Refund?", "Sure, we will refund."))
    assert findings == []
    assert server.requests == []


def test_base_url_from_environment(
    project, server: ReviewServer, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    folder = project()
    text = (folder / "dslint.toml").read_text().replace(f'base-url = "{server.url}"\n', "")
    (folder / "dslint.toml").write_text(text)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    review(folder, chat("Hi", "Hello!"))
    assert len(server.requests) == 1


# -- the pre-flight: estimate and confirmation -----------------------------------------------
def test_plan_counts_requests_tokens_and_dollars(project, server: ReviewServer) -> None:  # type: ignore[no-untyped-def]
    folder = project(**{"price-per-million-input": 2.0, "price-per-million-output": 8.0})
    plans: list[cost.ReviewPlan] = []
    examples = [chat("Refund?", "Sure, we will refund."), chat("Hi", "Hello!")]
    review(folder, *examples, *examples, confirm=lambda plan: plans.append(plan) or True)
    (plan,) = plans
    assert (plan.replies, plan.requests, plan.cached) == (4, 2, 0)
    assert plan.input_tokens > 2 * cost.estimate_tokens(GUIDELINES)
    assert plan.output_tokens == 2 * (5 + cost.OUTPUT_TOKENS_PER_VERDICT * len(IDS))
    expected = (plan.input_tokens * 2.0 + plan.output_tokens * 8.0) / 1_000_000
    assert plan.cost == pytest.approx(expected)
    review(folder, confirm=lambda plan: plans.append(plan) or True)
    assert (plans[1].requests, plans[1].cached, plans[1].cost) == (0, 2, 0.0)


def test_api_refuses_above_the_limit_without_confirm(project, server: ReviewServer) -> None:  # type: ignore[no-untyped-def]
    folder = project(**{"confirm-above": 0})
    with pytest.raises(ReviewNotConfirmed, match="--yes"):
        review(folder, chat("Hi", "Hello!"))
    with pytest.raises(ReviewNotConfirmed, match="not confirmed"):
        review(folder, confirm=lambda plan: False)
    assert server.requests == []


def test_prices() -> None:
    dated = cost.price_for(ReviewSettings(model="gpt-4.1-mini-2025-04-14"))
    assert dated is not None and (dated.input_per_million, dated.output_per_million) == (0.4, 1.6)
    assert cost.price_for(ReviewSettings(model="my-local-llama")) is None
    own = cost.price_for(
        ReviewSettings(model="gpt-4.1", price_per_million_input=0, price_per_million_output=0)
    )
    assert own is not None and own.source == "config" and own.input_per_million == 0


@pytest.mark.parametrize(
    ("quote", "span"),
    [
        ("we will refund", (11, 25)),
        ("We  will\nREFUND", (11, 25)),
        ("“we will refund”", (11, 25)),
        ("...we will refund…", (11, 25)),
        ("we never refund", None),
        ("", None),
    ],
)
def test_find_span(quote: str, span: tuple[int, int] | None) -> None:
    assert find_span("Sure! Yes, we will refund you.", quote) == span


# -- the command line ------------------------------------------------------------------------
@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli_module.cli, list(args), catch_exceptions=False, **kwargs)

    return invoke


def _data(folder: Path) -> None:
    (folder / "data.jsonl").write_text(
        jsonl(chat("Refund?", "Sure, we will refund."), chat("Hi", "Hello!")), encoding="utf-8"
    )


def test_cli_prints_the_estimate_then_reports(project, server: ReviewServer, run) -> None:  # type: ignore[no-untyped-def]
    folder = project(model="gpt-4.1-mini")
    _data(folder)
    result = run("check", "data.jsonl", "--select", "M5,V5", "--format", "json")
    assert result.exit_code == 1
    assert "LLM review: 2 replies to judge" in result.stderr
    assert "sends 2 requests to " + server.url + "/chat/completions" in result.stderr
    assert "cost: less than $0.01 ($0.40 in / $1.60 out per 1M" in result.stderr
    assert "openai-pricing" in result.stderr
    document = json.loads(result.stdout)  # stdout stays a clean report
    assert [(f["code"], f["line"]) for f in document["findings"]] == [("M501", 1)]
    assert len(server.requests) == 2
    again = run("check", "data.jsonl", "--select", "M5,V5")
    assert "2 found in the cache. Nothing to send." in again.stderr
    assert again.exit_code == 1 and len(server.requests) == 2


def test_cli_without_a_terminal_needs_yes_above_the_limit(
    project, server: ReviewServer, run
) -> None:  # type: ignore[no-untyped-def]
    folder = project(**{"confirm-above": 0})
    _data(folder)
    refused = run("check", "data.jsonl", "--select", "M5,V5", input="y\n")
    assert refused.exit_code == 2
    assert "cost: less than $0.01" in refused.stderr  # the estimate is shown before refusing
    assert "nothing was sent: re-run with --yes" in refused.stderr
    assert "Traceback" not in refused.output and "Send it?" not in refused.output
    assert server.requests == []

    sent = run("check", "data.jsonl", "--select", "M5,V5", "--yes")
    assert sent.exit_code == 1
    assert len(server.requests) == 2


def test_cli_unknown_price_counts_as_above_the_limit(project, server: ReviewServer, run) -> None:  # type: ignore[no-untyped-def]
    folder = project(model="local-llama", **{"confirm-above": 1000})
    _data(folder)
    result = run("check", "data.jsonl", "--select", "M5,V5")
    assert result.exit_code == 2
    assert "cost: unknown" in result.stderr
    assert server.requests == []


def test_cli_asks_on_a_terminal(
    project, server: ReviewServer, run, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(cli_module, "interactive", lambda: True)
    folder = project(**{"confirm-above": 0})
    _data(folder)
    declined = run("check", "data.jsonl", "--select", "M5,V5", input="n\n")
    assert "Send it?" in declined.output
    assert declined.exit_code == 2
    assert "not confirmed; nothing was sent" in declined.stderr
    assert server.requests == []
    accepted = run("check", "data.jsonl", "--select", "M5,V5", input="y\n")
    assert accepted.exit_code == 1
    assert len(server.requests) == 2


def test_cli_never_prompts_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = SimpleNamespace(isatty=lambda: True)
    monkeypatch.setattr(cli_module, "sys", SimpleNamespace(stdin=terminal, stderr=terminal))
    assert cli_module.interactive() is True
    for variable in ("CI", "GITHUB_ACTIONS", "PRE_COMMIT"):
        monkeypatch.setenv(variable, "1")
        assert cli_module.interactive() is False
        monkeypatch.delenv(variable)


def test_cli_review_flag_and_sample(tmp_path: Path, server: ReviewServer, run) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "guidelines.md").write_text(GUIDELINES, encoding="utf-8")
    (tmp_path / "dslint.toml").write_text(
        f'[review]\nguidelines = "guidelines.md"\nbase-url = "{server.url}"\ncache-dir = "cache"\n',
        encoding="utf-8",
    )
    (tmp_path / "data.jsonl").write_text(
        jsonl(*[chat(f"Q{i}?", f"Answer {i}.") for i in range(10)]), encoding="utf-8"
    )
    assert run("check", "data.jsonl").exit_code == 0
    assert server.requests == []  # off unless asked for
    result = run("check", "data.jsonl", "--review", "llm", "--sample", "3", "--yes")
    assert result.exit_code == 0, result.output
    assert "a sample of 3 of 10 examples" in result.stderr
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("toml", "args", "error"),
    [
        (
            '[review]\nmode = "llm"\nguidelines = "guidelines.md"\nbase-url = "http://127.0.0.1:9/v1"\nmodle = "x"\n',
            (),
            "unknown key 'modle'",
        ),
        (
            '[review]\nmode = "llm"\nguidelines = "missing.md"\nbase-url = "http://127.0.0.1:9/v1"\n',
            (),
            "missing.md",
        ),
        ('[review]\nmode = "llm"\nguidelines = "guidelines.md"\n', (), "needs OPENAI_API_KEY"),
        ('[review]\nmode = "llm"\nbase-url = "http://127.0.0.1:9/v1"\n', (), "needs 'guidelines'"),
        (
            '[review]\nmode = "llm"\nguidelines = "guidelines.md"\nconcurrency = 0\n',
            (),
            "'concurrency' must be at least 1",
        ),
        ('[review]\nmode = "maybe"\n', (), "'mode' must be one of none, llm"),
        ("[review]\nprice-per-million-input = 1.0\n", (), "set both"),
        ("", ("--sample", "5"), "--sample applies to the LLM review"),
    ],
)
def test_cli_config_errors_are_one_line(
    tmp_path: Path, run, toml: str, args: tuple[str, ...], error: str
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "guidelines.md").write_text(GUIDELINES, encoding="utf-8")
    (tmp_path / "dslint.toml").write_text(toml, encoding="utf-8")
    _data(tmp_path)
    result = run("check", "data.jsonl", *args)
    assert result.exit_code == 2
    assert error in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_legacy_completion_is_judged_with_its_prompt(project, server: ReviewServer) -> None:  # type: ignore[no-untyped-def]
    folder = project()
    legacy = {"prompt": "Can I have my money back?", "completion": "Sure, we will refund you."}
    findings = review(folder, legacy, {"prompt": "Hi", "completion": "Hello!"})
    assert located(findings) == [("M501", 1, "/completion")]
    assert raw_span(folder, findings[0]) == "we will refund"
    sent = [r["messages"][1]["content"] for r in server.requests]
    assert any("[user] Can I have my money back?" in message for message in sent)

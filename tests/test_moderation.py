"""Moderation: OpenAI's endpoint through the real client against a local server, and M001."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import TODAY, chat, jsonl
from dslint.api import check
from dslint.cli import cli
from dslint.config import ConfigError
from dslint.finding import Finding

CATEGORIES = [
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
    "sexual/minors", "violence", "violence/graphic",
]  # fmt: skip


def result_for(text: str) -> dict[str, Any]:
    """A realistic result: tiny scores, harassment for texts saying FLAG, violence 0.45 for
    texts saying FIGHT (below the API's own flag)."""
    scores = {c: 0.0001 for c in CATEGORIES}
    if "FLAG" in text:
        scores["harassment"] = 0.91
        scores["harassment/threatening"] = 0.62
    if "FIGHT" in text:
        scores["violence"] = 0.45
    categories = {c: scores[c] > 0.5 for c in CATEGORIES}
    return {
        "flagged": any(categories.values()),
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": {c: ["text"] for c in CATEGORIES},
    }


class Server:
    """A local moderation endpoint. ``script`` holds what to do for the next requests
    (``ok``, ``malformed``, ``short``, ``sleep``, or an HTTP status); then it answers ``ok``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[Any] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests.append({"path": self.path, "body": body,
                                           "auth": self.headers.get("Authorization")})  # fmt: skip
                    action = outer.script.pop(0) if outer.script else "ok"
                if action == "sleep":
                    time.sleep(0.6)  # longer than the client's timeout in these tests
                    action = "ok"
                if isinstance(action, int):
                    payload = json.dumps({"error": {"message": "busy", "type": "server_error"}})
                    self.reply(action, payload.encode(), {"Retry-After": "0.01"})
                    return
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                results = [result_for(t) for t in inputs]
                if action == "short":
                    results = results[:-1]
                document = {"id": "modr-1", "model": body["model"], "results": results}
                data = b"{not json" if action == "malformed" else json.dumps(document).encode()
                self.reply(200, data, {})

            def reply(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def sent(self) -> list[str]:
        return [text for r in self.requests for text in r["body"]["input"]]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-local-server")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def setup(tmp_path: Path, url: str, *examples: dict[str, Any], **options: Any) -> Path:
    """Write the examples and a config for the local server (small timeouts and batches)."""
    settings = {"base-url": url, "batch-size": 2, "concurrency": 2, "max-retries": 2,
                "timeout": 0.3, "cache-dir": "cache"}  # fmt: skip
    settings.update({k.replace("_", "-"): v for k, v in options.items()})
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    text = "[tool.dslint.moderation]\n" + "\n".join(lines) + "\n"
    (tmp_path / "dslint.toml").write_text(text, encoding="utf-8")
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*examples), encoding="utf-8")
    return path


EXAMPLES = [
    chat("Hello there", "Hi! How can I help?", system="You are helpful."),
    chat("You are useless, FLAG", "I am sorry to hear that.", system="You are helpful."),
    chat("Tell me a story", "Once upon a time.", system="You are helpful."),
]
DISTINCT = {"You are helpful.", "Hello there", "Hi! How can I help?", "You are useless, FLAG",
            "I am sorry to hear that.", "Tell me a story", "Once upon a time."}  # fmt: skip


def moderate(path: Path, **kwargs: Any) -> tuple[list[Finding], list[str], tuple[str, ...]]:
    announced: list[str] = []
    report = check([path], moderation="openai", select=["moderation"], today=TODAY,
                   announce=announced.append, **kwargs)  # fmt: skip
    return list(report.findings), announced, report.notes


def located(findings: list[Finding]) -> list[tuple[str, int | None, str]]:
    return [(f.code, f.line, f.pointer) for f in findings]


def test_batches_findings_and_cached_rerun(tmp_path: Path, server: Server) -> None:
    path = setup(tmp_path, server.url, *EXAMPLES)
    findings, announced, notes = moderate(path)
    assert located(findings) == [("M101", 2, "/messages/1/content")]
    assert "harassment 0.91" in findings[0].message
    assert "harassment/threatening 0.62" in findings[0].message
    # Each distinct text once (the shared system prompt too), at most two per request.
    assert sorted(server.sent()) == sorted(DISTINCT)
    assert len(server.requests) == 4
    assert all(len(r["body"]["input"]) <= 2 for r in server.requests)
    assert {r["path"] for r in server.requests} == {"/v1/moderations"}
    assert {r["body"]["model"] for r in server.requests} == {"omni-moderation-latest"}
    assert {r["auth"] for r in server.requests} == {"Bearer sk-test-local-server"}
    assert announced == [
        f"moderation: sending 7 texts in 4 requests to {server.url}/moderations "
        "(model omni-moderation-latest; 0 cached)"
    ]
    assert any("7 sent" in n for n in notes)
    # The cache: ignored by git, no text in it; a re-run sends nothing and reports the same.
    cache = tmp_path / "cache"
    assert (cache / ".gitignore").read_text() == "*\n"
    stored = b"".join(p.read_bytes() for p in cache.iterdir())
    assert b"useless" not in stored and b"helpful" not in stored
    again, announced, _ = moderate(path)
    assert located(again) == located(findings)
    assert len(server.requests) == 4
    assert announced == [f"moderation: all 7 texts found in the cache ({cache}); nothing sent"]
    # Change one text: only that one is sent.
    changed = [
        *EXAMPLES[:2],
        chat("Tell me a poem", "Once upon a time.", system="You are helpful."),
    ]
    path.write_text(jsonl(*changed), encoding="utf-8")
    moderate(path)
    assert server.sent()[7:] == ["Tell me a poem"]


def test_rate_limit_with_retry_after_then_success(tmp_path: Path, server: Server) -> None:
    server.script = [429]
    path = setup(tmp_path, server.url, *EXAMPLES, concurrency=1)
    findings, _, _ = moderate(path)
    assert located(findings) == [("M101", 2, "/messages/1/content")]
    assert len(server.requests) == 5  # one batch asked twice
    assert server.requests[0]["body"] == server.requests[1]["body"]


def test_server_errors_after_retries_are_reported_not_passed(
    tmp_path: Path, server: Server
) -> None:
    server.script = [500, 500, 500]  # the first batch fails three times: 1 try + 2 retries
    path = setup(tmp_path, server.url, chat("one", "two"), chat("three", "four"), concurrency=1)
    findings, _, notes = moderate(path)
    assert located(findings) == [("M102", 1, "/messages/0/content"),
                                 ("M102", 1, "/messages/1/content")]  # fmt: skip
    assert all("HTTP 500 after 2 retries" in f.message for f in findings)
    assert len(server.requests) == 4
    assert any("2 not moderated" in n for n in notes)
    # Failures are not cached: the next run sends exactly those texts again.
    again, _, _ = moderate(path)
    assert again == []
    assert server.sent()[-2:] == ["one", "two"]


def test_timeout_is_retried(tmp_path: Path, server: Server) -> None:
    server.script = ["sleep"]
    path = setup(tmp_path, server.url, chat("one FLAG", "two"))
    findings, _, _ = moderate(path)
    assert located(findings) == [("M101", 1, "/messages/0/content")]
    assert len(server.requests) == 2


def test_timeouts_after_retries_are_reported(tmp_path: Path, server: Server) -> None:
    server.script = ["sleep", "sleep"]
    path = setup(tmp_path, server.url, chat("one", "two"), max_retries=1)
    findings, _, _ = moderate(path)
    assert located(findings) == [("M102", 1, "/messages/0/content"),
                                 ("M102", 1, "/messages/1/content")]  # fmt: skip
    assert "timed out after 1 retry" in findings[0].message


@pytest.mark.parametrize(("action", "reason"), [("malformed", "not JSON"), ("short", "1 results")])
def test_malformed_answer_is_reported(
    tmp_path: Path, server: Server, action: str, reason: str
) -> None:
    server.script = [action]
    path = setup(tmp_path, server.url, chat("one", "two"))
    findings, _, _ = moderate(path)
    assert located(findings) == [("M102", 1, "/messages/0/content"),
                                 ("M102", 1, "/messages/1/content")]  # fmt: skip
    assert all("malformed response" in f.message and reason in f.message for f in findings)


def test_connection_refused_is_reported(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    path = setup(tmp_path, url, chat("one", "two"), max_retries=0)
    findings, _, _ = moderate(path)
    assert [f.code for f in findings] == ["M102", "M102"]
    assert f"could not connect to {url}" in findings[0].message


def test_thresholds_and_roles(tmp_path: Path, server: Server) -> None:
    examples = [chat("Let us FIGHT", "No thanks, FIGHT is bad")]
    path = setup(tmp_path, server.url, *examples, roles=["user"])
    config = tmp_path / "dslint.toml"
    config.write_text(config.read_text() + "thresholds = { violence = 0.4 }\n")
    findings, _, _ = moderate(path)
    assert located(findings) == [("M101", 1, "/messages/0/content")]
    assert "violence 0.45" in findings[0].message
    assert server.sent() == ["Let us FIGHT"]  # the assistant's text is not sent


def test_off_by_default_and_none_overrides_the_config(tmp_path: Path, server: Server) -> None:
    path = setup(tmp_path, server.url, *EXAMPLES)
    report = check([path], today=TODAY)
    assert server.requests == []
    assert not {f.code for f in report.findings} & {"M101", "M102"}
    # A provider in the config turns it on; --moderation none turns it off again.
    path = setup(tmp_path, server.url, *EXAMPLES, provider="openai")
    check([path], today=TODAY, moderation="none")
    assert server.requests == []
    findings = check([path], today=TODAY, select=["S"]).findings
    assert len(server.requests) == 4
    assert [f.code for f in findings if f.code.startswith("M")] == ["M101"]


def test_cli_needs_the_api_key_and_announces_once(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = setup(tmp_path, server.url, *EXAMPLES)
    monkeypatch.delenv("OPENAI_API_KEY")
    result = CliRunner().invoke(cli, ["check", str(path), "--moderation", "openai"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "OPENAI_API_KEY" in result.stderr
    assert server.requests == []
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-local-server")
    args = ["check", str(path), "--moderation", "openai", "--select", "moderation"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.stderr.count("dslint: moderation: sending 7 texts") == 1
    assert f"{server.url}/moderations" in result.stderr
    assert ":2:" in result.stdout and "M101" in result.stdout


def test_bad_moderation_section_is_a_config_error(tmp_path: Path) -> None:
    path = setup(tmp_path, "http://127.0.0.1:9/v1", chat(), treshold=1)
    with pytest.raises(ConfigError, match="'treshold'"):
        check([path], today=TODAY)


def test_profanity_offline_rule(lint: Any) -> None:
    text = jsonl(chat("How do I reset my password?", "Use the link."),
                 chat("You are a worthless piece of shit", "Let us keep this civil."))  # fmt: skip
    assert "M001" not in {f.code for f in lint(text)}
    findings = lint(text, select=["M001"])
    assert located(findings) == [("M001", 2, "/messages/0/content")]


def test_profanity_names_a_message_without_a_role_plainly(lint: Any) -> None:
    no_role = {"messages": [{"content": "You are a worthless piece of shit"},
                            {"role": "assistant", "content": "Let us keep this civil."}]}  # fmt: skip
    findings = lint(jsonl(no_role), select=["M001"])
    assert located(findings) == [("M001", 1, "/messages/0/content")]
    assert findings[0].message.startswith("This message reads as profane")

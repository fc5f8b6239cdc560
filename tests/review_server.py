"""A local HTTP server that speaks ``POST /v1/chat/completions`` with structured output.

The review tests drive the real ``openai`` client against it. By default it judges like a
keyword-matching model: a guideline in the request's schema fails when its trigger phrase
(``triggers``) occurs in the reply, quoting the phrase; every other guideline passes. A
test replaces ``answer`` to send malformed answers or HTTP errors.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (status, body, headers): a dict body is sent as JSON, a str body as it is.
Answer = tuple[int, Any, dict[str, str]]


def completion(content: str | None, finish_reason: str = "stop", **message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def reply_of(request: dict[str, Any]) -> str:
    """The reply being judged, from the user message of a review request."""
    user = request["messages"][-1]["content"]
    match = re.search(r"<reply>\n(.*)\n</reply>\Z", user, re.DOTALL)
    assert match, "the review request has no <reply> block"
    return match.group(1)


def guideline_ids(request: dict[str, Any]) -> list[str]:
    schema = request["response_format"]["json_schema"]["schema"]
    ids: list[str] = schema["properties"]["verdicts"]["items"]["properties"]["guideline"]["enum"]
    return ids


@dataclass
class ReviewServer:
    triggers: dict[str, str] = field(default_factory=dict)  # guideline id -> phrase
    quotes: dict[str, str] = field(default_factory=dict)  # guideline id -> quote to send
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    answer: Callable[[dict[str, Any]], Answer] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def judge(self, request: dict[str, Any]) -> Answer:
        reply = reply_of(request)
        verdicts = []
        for guideline in guideline_ids(request):
            phrase = self.triggers.get(guideline)
            broken = phrase is not None and phrase.lower() in reply.lower()
            verdicts.append(
                {
                    "guideline": guideline,
                    "reason": f"The reply {'breaks' if broken else 'follows'} [{guideline}].",
                    "pass": not broken,
                    "quote": self.quotes.get(guideline, phrase or "") if broken else "",
                }
            )
        return 200, completion(json.dumps({"verdicts": verdicts})), {}

    def handle(self, path: str, request: dict[str, Any]) -> Answer:
        with self.lock:
            self.requests.append(request)
            self.paths.append(path)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            return (self.answer or self.judge)(request)
        finally:
            with self.lock:
                self.in_flight -= 1


def _handler(state: ReviewServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            request = json.loads(self.rfile.read(length) or b"{}")
            if self.path != "/v1/chat/completions":
                status, body, headers = 404, {"error": {"message": "not found"}}, {}
            else:
                status, body, headers = state.handle(self.path, request)
            data = (json.dumps(body) if isinstance(body, dict) else body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output clean

    return Handler


@contextmanager
def serve(state: ReviewServer) -> Iterator[ReviewServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

"""Property-based fuzzing: no input makes the loader or any registered rule raise.

Hypothesis generates JSON values biased toward chat-like shapes (messages with roles, string
and part contents, tool calls, weights of odd types, DPO and RFT records, look-alikes) and
mangles their text (lone surrogate escapes, cut lines, stray bytes, BOMs, CRs); another
property feeds random bytes. Many generated lines share one file, so one engine run checks
a whole batch, with every rule of ``dslint.registry.all_rules()`` selected (rules added by
other packages are fuzzed too).

The default run checks at least 10,000 generated lines. ``DSLINT_FUZZ_EXAMPLES=N`` sets
the number of Hypothesis examples (files) per property for a longer run, for example
``DSLINT_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import dslint
from conftest import TODAY
from dslint.loader import FileInfo, parse_line
from dslint.registry import all_rules

EXAMPLES = int(os.environ.get("DSLINT_FUZZ_EXAMPLES", "500"))
LINES_PER_FILE = (20, 40)
MINIMUM_LINES_CHECKED = 10_000

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The explain phase re-runs a failing case hundreds of times over whole files: too slow.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)  # fmt: skip

# -- strategies ------------------------------------------------------------------------------

ODD_TEXT = st.sampled_from(
    ["", " ", "  padded  ", "\n", "<|endoftext|>", "<|im_start|>", "\x1b[31mred", "\u202eevil",
     "é" * 3, "😀", "{}", "{\"a\": 1}", "\"x\"", "null", "\t\r\n", "a" * 300, "\u0000",
     "sk-" + "A" * 48, "user@example.com", "‮", "\ufeff"]
)  # fmt: skip
TEXT = st.one_of(st.text(max_size=20), ODD_TEXT)
KEYS = st.one_of(
    st.sampled_from(["role", "content", "messages", "type", "text", "name", "weight", "id"]),
    st.text(max_size=6),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=4,
)
ROLES = st.one_of(
    st.sampled_from(["system", "user", "assistant", "tool", "function", "developer", "human",
                     "gpt", "ASSISTANT", "", "bot"]),
    JSON,
)  # fmt: skip
PARTS = st.lists(
    st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": st.one_of(TEXT, JSON)}),
        st.fixed_dictionaries(
            {"type": st.sampled_from(["image_url", "input_audio", "file", "text", ""]),
             "image_url": st.one_of(st.fixed_dictionaries({"url": TEXT}), JSON)},
            optional={"detail": st.one_of(st.sampled_from(["low", "high", "auto", "x"]), JSON)},
        ),
        JSON,
    ),
    max_size=3,
)  # fmt: skip
CONTENT = st.one_of(TEXT, PARTS, st.none(), JSON)
ARGUMENTS = st.one_of(
    TEXT, JSON.map(lambda v: json.dumps(v, allow_nan=True)), st.just('"{\\"a\\": 1}"'), JSON
)
TOOL_CALLS = st.one_of(
    st.lists(
        st.fixed_dictionaries(
            {"id": st.one_of(TEXT, JSON), "type": st.sampled_from(["function", "tool", ""]),
             "function": st.one_of(
                 st.fixed_dictionaries({"name": st.one_of(TEXT, JSON), "arguments": ARGUMENTS}),
                 JSON)},
        ),
        max_size=3,
    ),
    JSON,
)  # fmt: skip
WEIGHT = st.one_of(st.sampled_from([0, 1, 2, -1, 0.5, 1.0, True, False, "1", None]), JSON)
MESSAGE = st.one_of(
    st.fixed_dictionaries(
        {"role": ROLES},
        optional={"content": CONTENT, "tool_calls": TOOL_CALLS, "weight": WEIGHT,
                  "name": st.one_of(TEXT, JSON), "tool_call_id": st.one_of(TEXT, JSON),
                  "refusal": st.one_of(TEXT, JSON), "function_call": JSON,
                  "from": TEXT, "value": TEXT},
    ),
    JSON,
)  # fmt: skip
MESSAGES = st.one_of(st.lists(MESSAGE, max_size=5), JSON)
TOOLS = st.one_of(
    st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["function", "x"]),
             "function": st.fixed_dictionaries(
                 {"name": st.one_of(TEXT, JSON)},
                 optional={"description": TEXT, "parameters": JSON, "strict": JSON})},
        ),
        max_size=2,
    ),
    JSON,
)  # fmt: skip
RECORD = st.one_of(
    st.fixed_dictionaries(
        {"messages": MESSAGES},
        optional={"tools": TOOLS, "parallel_tool_calls": JSON, "functions": JSON, "weight": WEIGHT},
    ),
    st.fixed_dictionaries(
        {"input": st.one_of(st.fixed_dictionaries({"messages": MESSAGES}, optional={"tools": TOOLS}),
                            JSON)},
        optional={"preferred_output": MESSAGES, "non_preferred_output": MESSAGES,
                  "preferred_completion": MESSAGES, "non_preferred_completion": MESSAGES},
    ),
    st.fixed_dictionaries(
        {"messages": MESSAGES},
        optional={"reference_answer": JSON, "grader": JSON, "tools": TOOLS},
    ),
    st.fixed_dictionaries({}, optional={"prompt": st.one_of(TEXT, JSON),
                                        "completion": st.one_of(TEXT, JSON)}),
    st.fixed_dictionaries({"conversations": st.one_of(st.lists(MESSAGE, max_size=3), JSON)},
                          optional={"system": TEXT, "tools": JSON}),
    st.fixed_dictionaries({"instruction": TEXT, "output": TEXT}, optional={"input": TEXT}),
    JSON,
)  # fmt: skip

MANGLE = st.sampled_from(
    ["none"] * 12 + ["surrogate", "cut", "junk-byte", "bom", "cr", "crlf", "nul", "blank",
                     "duplicate-key", "deep"]
)  # fmt: skip


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    """One generated record as a JSONL line, sometimes mangled the way real files are."""
    value = draw(RECORD)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()), allow_nan=True)
    mangle = draw(MANGLE)
    if mangle == "surrogate" and '"' in text[1:]:
        at = text.index('"', 1) + 1
        text = (
            text[:at] + draw(st.sampled_from(["\\ud800", "\\udfff", "\\udbff\\u0041"])) + text[at:]
        )
    elif mangle == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif mangle == "bom":
        text = "\ufeff" + text
    elif mangle == "cr":
        text = text + "\r" + text
    elif mangle == "nul":
        text = text + "\x00"
    elif mangle == "blank":
        text = draw(st.sampled_from(["", " ", "\t"]))
    elif mangle == "duplicate-key" and text.startswith("{") and len(text) > 2:
        text = '{"messages": [], ' + text[1:]
    elif mangle == "deep":
        depth = draw(st.integers(100, 3000))
        text = "[" * depth + text + "]" * depth
    data = text.encode("utf-8", "surrogatepass")
    if mangle == "junk-byte":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80"])) + data[at:]  # fmt: skip
    ending = b"\r\n" if mangle == "crlf" else b"\n"
    return data + ending


# -- properties ------------------------------------------------------------------------------

CHECKED = {"lines": 0}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule that tries the network while fuzzing fails loudly instead of hanging."""

    def refuse(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"network access during the fuzz test: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def check_all_rules(path: Path) -> None:
    report = dslint.check([path], select=["ALL"], today=TODAY)
    for finding in report.findings:
        assert finding.code and finding.message
        finding.message.encode("utf-8")  # nothing unencodable reaches a reporter
        assert finding.line is None or finding.line >= 1


@FUZZ
@given(batch=st.lists(lines(), min_size=LINES_PER_FILE[0], max_size=LINES_PER_FILE[1]))
def test_generated_records_never_crash_any_rule(tmp_path: Path, batch: list[bytes]) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"".join(batch))
    check_all_rules(path)
    CHECKED["lines"] += len(batch)


@FUZZ
@given(data=st.binary(max_size=4000), gz=st.booleans())
def test_random_bytes_never_crash_any_rule(tmp_path: Path, data: bytes, gz: bool) -> None:
    import gzip

    path = tmp_path / "bytes.jsonl"
    path.write_bytes(gzip.compress(data) if gz else data)
    check_all_rules(path)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), lines()))
def test_the_loader_parses_any_line(raw: bytes) -> None:
    info = FileInfo(path="x.jsonl", real_path=Path("x.jsonl"))
    record = parse_line(raw, info, 2, 0, 0)
    assert record.is_object or record.problems or record.value is not None
    if record.is_object:
        # What rules see is always encodable text: lone surrogates were replaced.
        json.dumps(record.value, ensure_ascii=False).encode("utf-8")


def test_the_default_run_checks_at_least_ten_thousand_lines() -> None:
    """Runs after the batch property in this module (pytest keeps file order)."""
    if EXAMPLES < 500 or not CHECKED["lines"]:
        pytest.skip("needs the whole module at the default DSLINT_FUZZ_EXAMPLES or more")
    assert CHECKED["lines"] >= MINIMUM_LINES_CHECKED, CHECKED
    assert len(all_rules()) > 0


@FUZZ
@given(batch=st.lists(lines(), min_size=1, max_size=LINES_PER_FILE[1]))
def test_fix_never_crashes_and_a_second_fix_changes_nothing(
    tmp_path: Path, batch: list[bytes]
) -> None:
    from dslint.fix import REJECTED_KINDS, fix
    from dslint.loader import InputError

    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(batch))
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    try:
        result = fix(source, first)
    except InputError as exc:
        assert "binary" in str(exc) or "LFS" in str(exc)
        return
    info = FileInfo(path="first.jsonl", real_path=first)
    for number, raw in enumerate(first.read_bytes().split(b"\n")[:-1], 1):
        record = parse_line(raw + b"\n", info, number, 0, 0)
        assert record.is_object and not {p.kind for p in record.problems} & REJECTED_KINDS
    again = fix(first, second)
    assert second.read_bytes() == first.read_bytes()
    assert {c.action for c in again.changes} <= {"kept"}
    assert result.lines_written == again.lines_written

"""Schema rules: each rule's failing and passing cases, asserted as (code, line, pointer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import TODAY, chat, clean_chat, jsonl, located
from dslint.api import check

USER = {"role": "user", "content": "Where is my order?"}
ANSWER = {"role": "assistant", "content": "It ships today."}
TOOLS = [{"type": "function", "function": {"name": "get_status", "parameters": {"type": "object"}}}]


def call(
    call_id: str = "c1", name: str = "get_status", arguments: Any = '{"id": 1}'
) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def messages(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"messages": list(items), **extra}


# (case id, the example on line 2 after one clean line, expected (code, pointer) on that line)
CASES: list[tuple[str, dict[str, Any] | str, list[tuple[str, str]]]] = [
    ("missing messages", {"prompt_text": "hi"}, [("S101", "")]),
    ("empty messages", {"messages": []}, [("S101", "/messages")]),
    ("messages not a list", {"messages": "hi"}, [("S101", "/messages")]),
    ("message not an object", messages(USER, "oops"), [("S101", "/messages/1")]),  # type: ignore[arg-type]
    ("unknown top-level key", messages(USER, ANSWER, metadata={}), [("S102", "/metadata")]),
    (
        "unknown message key",
        messages({**USER, "contents": "x"}, ANSWER),
        [("S102", "/messages/0/contents")],
    ),
    (
        "developer role in chat",
        messages({"role": "developer", "content": "x"}, USER, ANSWER),
        [("S103", "/messages/0/role")],
    ),
    (
        "sharegpt role",
        messages({"role": "human", "content": "x"}, ANSWER),
        [("S103", "/messages/0/role")],
    ),
    ("missing role", messages({"content": "x"}, ANSWER), [("S103", "/messages/0")]),
    ("user without content", messages({"role": "user"}, ANSWER), [("S104", "/messages/0")]),
    ("assistant without content", messages(USER, {"role": "assistant"}), [("S104", "/messages/1")]),
    (
        "assistant null content",
        messages(USER, {"role": "assistant", "content": None}),
        [("S104", "/messages/1")],
    ),
    (
        "tool without content",
        messages(
            USER,
            {"role": "assistant", "tool_calls": [call()]},
            {"role": "tool", "tool_call_id": "c1"},
            ANSWER,
        ),
        [("S104", "/messages/2")],
    ),
    (
        "content a number",
        messages({"role": "user", "content": 42}, ANSWER),
        [("S105", "/messages/0/content")],
    ),
    (
        "content empty list",
        messages({"role": "user", "content": []}, ANSWER),
        [("S105", "/messages/0/content")],
    ),
    (
        "audio part",
        messages({"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}, ANSWER),
        [("S105", "/messages/0/content/0/type")],
    ),
    (
        "image part in system",
        messages(
            {
                "role": "system",
                "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}],
            },
            USER,
            ANSWER,
        ),
        [("S105", "/messages/0/content/0/type")],
    ),
    (
        "text part without text",
        messages({"role": "user", "content": [{"type": "text"}]}, ANSWER),
        [("S105", "/messages/0/content/0")],
    ),
    ("name not a string", messages({**USER, "name": 7}, ANSWER), [("S106", "/messages/0/name")]),
    (
        "parallel_tool_calls not boolean",
        messages(USER, ANSWER, parallel_tool_calls="yes"),
        [("S106", "/parallel_tool_calls")],
    ),
    (
        "weight fraction",
        messages(USER, {**ANSWER, "weight": 0.5}),
        [("S107", "/messages/1/weight")],
    ),
    ("weight true", messages(USER, {**ANSWER, "weight": True}), [("S107", "/messages/1/weight")]),
    ("weight on user", messages({**USER, "weight": 1}, ANSWER), [("S107", "/messages/0/weight")]),
    ("weight at top level", messages(USER, ANSWER, weight=1), [("S107", "/weight")]),
    ("no assistant", messages({"role": "system", "content": "x"}, USER), [("S108", "/messages")]),
    ("all weight 0", messages(USER, {**ANSWER, "weight": 0}), [("S108", "/messages")]),
    (
        "image without url",
        messages({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}, ANSWER),
        [("S109", "/messages/0/content/0/image_url")],
    ),
    (
        "image bad detail",
        messages(
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "max"}}
                ],
            },
            ANSWER,
        ),
        [("S109", "/messages/0/content/0/image_url/detail")],
    ),
    (
        "image local path",
        messages(
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "cat.png"}}]},
            ANSWER,
        ),
        [("S109", "/messages/0/content/0/image_url/url")],
    ),
    (
        "image in assistant",
        messages(
            USER,
            {
                "role": "assistant",
                "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}],
            },
        ),
        [("S109", "/messages/1/content/0")],
    ),
    (
        "eleven images",
        messages(
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": f"https://x/{i}.png"}}
                    for i in range(11)
                ],
            },
            ANSWER,
        ),
        [("S110", "")],
    ),
    (
        "special token",
        messages({"role": "user", "content": "go <|im_start|> now"}, ANSWER),
        [("S111", "/messages/0/content")],
    ),
    (
        "tool call without id",
        messages(
            USER,
            {
                "role": "assistant",
                "tool_calls": [
                    {"type": "function", "function": {"name": "get_status", "arguments": "{}"}}
                ],
            },
        ),
        [("S201", "/messages/1/tool_calls/0")],
    ),
    (
        "tool call wrong type",
        messages(USER, {"role": "assistant", "tool_calls": [{**call(), "type": "tool"}]}),
        [("S201", "/messages/1/tool_calls/0/type")],
    ),
    (
        "tool_calls not a list",
        messages(USER, {"role": "assistant", "tool_calls": call()}),
        [("S201", "/messages/1/tool_calls")],
    ),
    (
        "arguments not JSON",
        messages(USER, {"role": "assistant", "tool_calls": [call(arguments="{id: 1}")]}),
        [("S202", "/messages/1/tool_calls/0/function/arguments")],
    ),
    (
        "arguments double encoded",
        messages(
            USER, {"role": "assistant", "tool_calls": [call(arguments=json.dumps('{"id": 1}'))]}
        ),
        [("S202", "/messages/1/tool_calls/0/function/arguments")],
    ),
    (
        "arguments an object",
        messages(USER, {"role": "assistant", "tool_calls": [call(arguments={"id": 1})]}),
        [("S202", "/messages/1/tool_calls/0/function/arguments")],
    ),
    (
        "arguments a list",
        messages(USER, {"role": "assistant", "tool_calls": [call(arguments="[1]")]}),
        [("S202", "/messages/1/tool_calls/0/function/arguments")],
    ),
    (
        "undefined function",
        messages(USER, {"role": "assistant", "tool_calls": [call(name="get_stats")]}, tools=TOOLS),
        [("S203", "/messages/1/tool_calls/0/function/name")],
    ),
    (
        "orphan tool message",
        messages(
            USER,
            {"role": "assistant", "tool_calls": [call()]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "tool", "tool_call_id": "c2", "content": "ok"},
            ANSWER,
        ),
        [("S204", "/messages/3/tool_call_id")],
    ),
    (
        "tool message without id",
        messages(
            USER, {"role": "assistant", "tool_calls": [call()]}, {"role": "tool", "content": "ok"}
        ),
        [("S204", "/messages/2")],
    ),
    (
        "unanswered call",
        messages(
            USER,
            {"role": "assistant", "tool_calls": [call(), call("c2")]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            ANSWER,
        ),
        [("S205", "/messages/1/tool_calls/1/id")],
    ),
    (
        "function name with space",
        messages(USER, ANSWER, tools=[{"type": "function", "function": {"name": "get status"}}]),
        [("S206", "/tools/0/function/name")],
    ),
    (
        "function name too long",
        messages(USER, {"role": "assistant", "tool_calls": [call(name="f" * 65)]}),
        [("S206", "/messages/1/tool_calls/0/function/name")],
    ),
    (
        "tool definition without function",
        messages(USER, ANSWER, tools=[{"type": "function"}]),
        [("S207", "/tools/0")],
    ),
    (
        "parameters not an object",
        messages(
            USER, ANSWER, tools=[{"type": "function", "function": {"name": "f", "parameters": "x"}}]
        ),
        [("S207", "/tools/0/function/parameters")],
    ),
    ("functions empty", messages(USER, ANSWER, functions=[]), [("S207", "/functions")]),
    (
        "functions over 128",
        messages(USER, ANSWER, functions=[{"name": f"f{i}"} for i in range(129)]),
        [("S207", "/functions")],
    ),
    (
        "empty content",
        messages({"role": "user", "content": ""}, ANSWER),
        [("Q001", "/messages/0/content")],
    ),
    (
        "whitespace part",
        messages({"role": "user", "content": [{"type": "text", "text": " \n"}]}, ANSWER),
        [("Q001", "/messages/0/content/0/text")],
    ),
]

PASSING: list[tuple[str, dict[str, Any]]] = [
    ("plain chat", chat()),
    (
        "assistant with only tool calls",
        messages(USER, {"role": "assistant", "tool_calls": [call()]}, tools=TOOLS),
    ),
    (
        "full tool round trip",
        messages(
            USER,
            {"role": "assistant", "content": None, "tool_calls": [call()]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            ANSWER,
            tools=TOOLS,
            parallel_tool_calls=False,
        ),
    ),
    (
        "legacy function call",
        messages(
            USER,
            {"role": "assistant", "function_call": {"name": "get_status", "arguments": "{}"}},
            {"role": "function", "name": "get_status", "content": "ok"},
            ANSWER,
            functions=[{"name": "get_status"}],
        ),
    ),
    (
        "vision",
        messages(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is it?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                    },
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "A chart."}]},
        ),
    ),
    ("weights", messages(USER, {**ANSWER, "weight": 0}, USER, {**ANSWER, "weight": 1})),
    (
        "names and refusal",
        messages(
            {**USER, "name": "alice"}, {"role": "assistant", "content": "No.", "refusal": None}
        ),
    ),
    (
        "empty content beside tool calls",
        messages(USER, {"role": "assistant", "content": "", "tool_calls": [call()]}),
    ),
]


@pytest.mark.parametrize(("case", "example", "expected"), CASES, ids=[c[0] for c in CASES])
def test_failing_case(lint, case: str, example: Any, expected: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    codes = sorted({code for code, _ in expected})
    findings = lint(jsonl(chat(), example), select=codes)
    assert located(findings) == [(code, 2, pointer) for code, pointer in expected]


@pytest.mark.parametrize(("case", "example"), PASSING, ids=[c[0] for c in PASSING])
def test_passing_case(lint, case: str, example: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    findings = lint(jsonl(*clean_chat(9), example), model="gpt-4o-2024-08-06")
    assert [f for f in findings if f.severity.value != "info"] == []


def test_clean_file_has_no_error_or_warning(lint) -> None:  # type: ignore[no-untyped-def]
    findings = lint(jsonl(*clean_chat(60)))
    assert findings == []


# -- DPO, RFT, legacy ------------------------------------------------------------------------
def dpo(preferred: Any = None, non_preferred: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "input": {"messages": [USER]},
        "preferred_output": preferred if preferred is not None else [ANSWER],
        "non_preferred_output": non_preferred
        if non_preferred is not None
        else [{"role": "assistant", "content": "No."}],
        **extra,
    }


def test_dpo_valid_and_invalid(lint) -> None:  # type: ignore[no-untyped-def]
    old = {
        "input": {"messages": [USER]},
        "preferred_completion": [ANSWER],
        "non_preferred_completion": [ANSWER],
    }
    lines = [dpo()] * 10 + [
        dpo(preferred=[ANSWER, ANSWER]),
        dpo(non_preferred=[USER]),
        old,
        {"input": {"messages": []}, "preferred_output": [ANSWER], "non_preferred_output": [ANSWER]},
        {"input": {"messages": [USER]}, "preferred_output": [ANSWER]},
    ]
    # (the repeated lines are exact duplicates: not what this test is about)
    findings = lint(jsonl(*lines), ignore=["S014", "D"])
    assert located(findings) == [
        ("S302", 11, "/preferred_output"),
        ("S302", 12, "/non_preferred_output/0/role"),
        ("S301", 13, "/preferred_completion"),
        ("S301", 13, "/non_preferred_completion"),
        ("S101", 14, "/input/messages"),
        ("S302", 15, ""),
    ]


def test_rft_rules(lint) -> None:  # type: ignore[no-untyped-def]
    prompt = [{"role": "developer", "content": "Reply with a number."}, USER]
    lines = [{"messages": prompt, "answer": "4"}] * 10 + [
        {"messages": [*prompt, ANSWER], "answer": "4"},
        {"messages": [{"role": "system", "content": "x"}, USER], "answer": "4"},
    ]
    findings = lint(jsonl(*lines), model="o4-mini", ignore=["S014", "D"])
    assert located(findings) == [("S311", 11, "/messages/2"), ("S103", 12, "/messages/0/role")]


def test_legacy_needs_a_legacy_model(lint) -> None:  # type: ignore[no-untyped-def]
    lines = jsonl(*[{"prompt": f"Q{i} ->", "completion": f" A{i}"} for i in range(50)])
    assert located(lint(lines)) == [("S024", None, "")]
    assert located(lint(lines, model="davinci-002")) == []
    assert located(lint(lines, model="gpt-4o-mini")) == [("S023", None, "")]


def test_format_not_accepted_by_target(lint) -> None:  # type: ignore[no-untyped-def]
    dpo_lines = [dpo([{"role": "assistant", "content": f"Answer {i}."}]) for i in range(50)]
    assert located(lint(jsonl(*dpo_lines), model="gpt-3.5-turbo")) == [("S023", None, "")]
    vision = messages(
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}],
        },
        ANSWER,
    )
    data = jsonl(*clean_chat(49), vision)
    assert located(lint(data, model="gpt-4o-mini")) == [("S023", None, "")]
    assert located(lint(data, model="gpt-4o")) == []
    # Without --model the target follows the data: vision files get a vision model.
    assert located(lint(data)) == []


# -- file level -------------------------------------------------------------------------------
def test_example_counts(lint) -> None:  # type: ignore[no-untyped-def]
    assert located(lint(jsonl(*clean_chat(9)))) == [("S013", None, "")]
    assert located(lint(jsonl(*clean_chat(10)))) == [("S014", None, "")]
    assert located(lint(jsonl(*clean_chat(50)))) == []
    assert located(lint(jsonl(*clean_chat(10)), ignore=["S014"])) == []


def test_a_small_validation_file_is_not_told_to_grow(tmp_path: Path) -> None:
    """S014's starting point is for training data; a held-out set of 12 is fine."""
    train, held = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    train.write_text(jsonl(*clean_chat(60)))
    held.write_text(jsonl(*[chat(f"Held-out question {i}?", f"Answer {i}.") for i in range(12)]))
    report = check([train], validation=[held], today=TODAY)
    assert [(f.code, Path(f.path).name) for f in report.findings] == []
    report = check([held], today=TODAY)  # the same file as a training file
    assert [(f.code, Path(f.path).name) for f in report.findings] == [("S014", "val.jsonl")]


def test_file_too_large_is_configurable(lint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "dslint.toml"
    config.write_text("[rules.file-too-large]\nmax-bytes = 100\n")
    assert located(lint(jsonl(*clean_chat(50)), config=config)) == [("S015", None, "")]


def test_lookalike_formats_get_one_file_finding(lint) -> None:  # type: ignore[no-untyped-def]
    sharegpt = [
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}
    ] * 60
    assert located(lint(jsonl(*sharegpt))) == [("S020", None, "")]
    alpaca = [{"instruction": f"Say hi {i}", "input": "", "output": "hi"} for i in range(60)]
    assert located(lint(jsonl(*alpaca))) == [("S020", None, "")]


def test_mixed_and_unknown_formats(lint) -> None:  # type: ignore[no-untyped-def]
    assert located(lint(jsonl(*clean_chat(50), dpo()))) == [("S021", None, "")]
    assert located(lint(jsonl(*[{"q": f"a{i}"} for i in range(50)]))) == [("S022", None, "")]
    # A stray line without any format key in a chat file gets the API's complaint.
    assert located(lint(jsonl(*clean_chat(50), {"q": "a"}))) == [
        ("S101", 51, ""),
        ("S102", 51, "/q"),
    ]


def test_mixed_formats_name_the_odd_lines(lint: Any) -> None:
    legacy = {"prompt": "What is 2+2?", "completion": " 4"}
    (one,) = lint(jsonl(*clean_chat(50), legacy, *clean_chat(60)[50:]))
    assert one.code == "S021" and one.message.endswith(
        "(the file is checked as supervised chat; the other formats are on line 51)"
    )
    lines: list[Any] = clean_chat(300)
    for line in (12, 40, 41, 150, 151, 152, 290, 299):  # line numbers, counted from 1
        lines[line - 1] = dpo() if line % 2 else legacy
    (many,) = [f for f in lint(jsonl(*lines)) if f.code == "S021"]
    assert (many.line, many.pointer) == (None, "")  # a file-level finding, as before
    assert many.message.endswith(
        "the other formats are on lines 12, 40, 41, 150, 151 and 3 more lines)"
    )


def test_mixed_formats_name_the_odd_lines_read_by_a_helper(
    lint: Any, small_shards: None, helper_pids: list[int]
) -> None:
    # The helper reads the second half of the file: its odd lines join the first half's.
    legacy = {"prompt": "What is 2+2?", "completion": " 4"}
    lines: list[Any] = clean_chat(1000)
    for line in (970, 20, 980):
        lines[line - 1] = legacy
    (found,) = [f for f in lint(jsonl(*lines)) if f.code == "S021"]
    assert helper_pids, "the file was not split"
    assert found.message.endswith("the other formats are on lines 20, 970 and 980)")


def test_a_padded_prompt_is_reported_once_with_the_examples_sharing_it(lint: Any) -> None:
    padded = "You are Acme's assistant.\n"
    other = " Be brief."
    lines = [chat(f"Question {i}?", f"Answer {i}.", system=padded) for i in range(4)]
    lines.insert(2, chat("Hi?", "Hello.", system=other))
    lines.append(chat("Clean?", "Yes.", system="You are Acme's assistant."))
    dpo = {
        "input": {"messages": [{"role": "developer", "content": "Rank these. "},
                               {"role": "user", "content": "Pick one"}]},
        "preferred_output": [{"role": "assistant", "content": "A"}],
        "non_preferred_output": [{"role": "assistant", "content": "B"}],
    }  # fmt: skip
    findings = lint(jsonl(*lines) + jsonl(dpo), ignore=["S021"])
    assert located(findings, "Q002", "Q003") == [
        ("Q003", 1, "/messages/0/content"),
        ("Q003", 3, "/messages/0/content"),
        ("Q003", 7, "/input/messages/0/content"),
    ]
    shared, alone, developer = [f for f in findings if f.code == "Q003"]
    assert shared.message == (
        "trailing whitespace around the system content, in all 4 examples that share this "
        "prompt (this is the first); strip it"
    )
    assert alone.message == "leading whitespace around the system content; strip it"
    assert developer.message == "trailing whitespace around the developer content; strip it"
    assert {f.severity.value for f in findings if f.code == "Q003"} == {"info"}


def test_q002_leaves_prompts_to_q003_and_keeps_the_other_roles(lint: Any) -> None:
    example = messages(
        {"role": "system", "content": "Be kind. "},
        {"role": "user", "content": " Hi"},
        {"role": "assistant", "content": "Hello!\n"},
    )
    findings = lint(jsonl(example), select=["Q002", "Q003"])
    assert sorted(located(findings)) == [
        ("Q002", 1, "/messages/1/content"),
        ("Q002", 1, "/messages/2/content"),
        ("Q003", 1, "/messages/0/content"),
    ]
    # The column is the whitespace itself: the trailing space of the prompt, the leading
    # space of the question, the line feed (escaped as two characters) after the reply.
    line = jsonl(example).splitlines()[0]
    at = {f.pointer: line[f.column - 1 :][:4] for f in findings}
    assert at == {
        "/messages/0/content": ' "},',
        "/messages/1/content": ' Hi"',
        "/messages/2/content": '\\n"}',
    }


def test_message_lists_finds_each_formats_lists_with_their_pointers() -> None:
    from dslint.formats import message_lists

    user = {"role": "user", "content": "Hi"}
    dpo = {
        "input": {"messages": [user]},
        "preferred_output": [{"role": "assistant", "content": "Hello"}],
        "non_preferred_output": "not a list",  # passed over: S-rules report it
    }
    assert [(s, p, len(m)) for s, p, m in message_lists(dpo, "dpo")] == [
        ("input", "/input/messages", 1),
        ("preferred", "/preferred_output", 1),
    ]
    assert list(message_lists({"messages": [user]}, "chat")) == [("messages", "/messages", [user])]
    assert list(message_lists({"messages": {"0": user}}, "chat")) == []
    assert list(message_lists({"input": [user]}, "dpo")) == []  # "input" is not an object
    assert list(message_lists({"prompt": "a", "completion": "b"}, "legacy")) == []

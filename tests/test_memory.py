"""dslint.memory: memory a finished stage freed goes back to the system."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import clean_chat, jsonl
from dslint.memory import give_back

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the resident size from /proc"
)


def resident_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_memory_arrow_kept_after_a_stage_is_given_back() -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    give_back()
    base = pa.array(np.arange(100_000, dtype=np.int64))
    start = resident_mib()
    # About 300 MB in 400 Arrow-allocated arrays of 0.8 MB: the sizes a stage's chunks have.
    stage = [pc.add(base, i) for i in range(400)]
    assert resident_mib() - start > 250
    del stage
    kept = resident_mib()
    give_back()
    returned = kept - resident_mib()
    # What Arrow's allocator kept (most of the 300 MB here) is returned; how much it keeps
    # without the call depends on the allocator, so only the end state is asserted.
    assert resident_mib() - start < 50, (kept, returned)


def test_a_check_collects_cycles_less_often_and_gives_the_thresholds_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    import dslint
    from dslint.engine import Engine
    from dslint.loader import InputError
    from dslint.memory import CHECK_THRESHOLDS

    seen = []
    real = Engine.run

    def spy(engine: Engine, *args: Any, **kwargs: Any) -> Any:
        seen.append(gc.get_threshold())
        return real(engine, *args, **kwargs)

    monkeypatch.setattr(Engine, "run", spy)
    before = gc.get_threshold()
    path = tmp_path / "d.jsonl"
    path.write_text(jsonl(*clean_chat(3)), encoding="utf-8")
    dslint.check([path])
    assert seen == [CHECK_THRESHOLDS] != before
    assert gc.get_threshold() == before
    with pytest.raises(InputError):
        dslint.check([tmp_path / "missing.jsonl"])
    assert gc.get_threshold() == before

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a failure while reading")

    monkeypatch.setattr(Engine, "_read", broken)
    with pytest.raises(RuntimeError):
        dslint.check([path])
    # However a check ends, the collector is on again and nothing stays frozen.
    assert gc.get_threshold() == before and gc.isenabled() and gc.get_freeze_count() == 0


def test_checks_in_several_threads_give_the_callers_thresholds_back() -> None:
    import gc
    import threading

    from dslint.memory import CHECK_THRESHOLDS, collect_less

    before = gc.get_threshold()
    inside = threading.Event()
    release = threading.Event()

    def first() -> None:
        with collect_less():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    with collect_less():  # starts while the first check runs, ends after it
        release.set()
        thread.join()
        assert gc.get_threshold() == CHECK_THRESHOLDS  # this check still runs
    assert gc.get_threshold() == before


def test_a_check_imports_and_reads_without_the_collector_then_freezes_what_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    import dslint
    from dslint.engine import Engine

    seen: dict[str, Any] = {}
    made, read, rules = Engine.__init__, Engine._read, Engine._run_dataset_rules

    def spy_init(engine: Engine, *args: Any, **kwargs: Any) -> None:
        seen["importing"] = gc.isenabled()
        made(engine, *args, **kwargs)

    def spy_read(engine: Engine, *args: Any, **kwargs: Any) -> Any:
        seen["reading"] = gc.isenabled()
        return read(engine, *args, **kwargs)

    def spy_rules(engine: Engine, *args: Any, **kwargs: Any) -> Any:
        seen["rules"] = (gc.isenabled(), gc.get_freeze_count())
        return rules(engine, *args, **kwargs)

    monkeypatch.setattr(Engine, "__init__", spy_init)
    monkeypatch.setattr(Engine, "_read", spy_read)
    monkeypatch.setattr(Engine, "_run_dataset_rules", spy_rules)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    path = tmp_path / "d.jsonl"
    path.write_text(jsonl(*clean_chat(3)), encoding="utf-8")
    dslint.check([path])
    assert seen["importing"] is False and seen["reading"] is False
    enabled, frozen = seen["rules"]
    assert enabled and frozen > 0  # the collector is back on, and does not walk what was read
    assert gc.isenabled() and gc.get_freeze_count() == 0  # all of it given back


def test_long_lived_keeps_a_callers_own_frozen_objects_and_disabled_collector() -> None:
    import gc

    from dslint.memory import collect_less, long_lived

    gc.freeze()  # as a server does before it forks
    try:
        frozen = gc.get_freeze_count()
        with collect_less():
            with long_lived():
                made = [[] for _ in range(1000)]  # containers the collector tracks
            assert gc.get_freeze_count() == frozen  # nothing of the check's frozen with them
        assert gc.get_freeze_count() == frozen and made
    finally:
        gc.unfreeze()
    gc.disable()
    try:
        with collect_less(), long_lived():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the caller's choice stands
    finally:
        gc.enable()


def test_checks_in_several_threads_turn_the_collector_on_once_none_is_reading() -> None:
    import gc
    import threading

    from dslint.memory import collect_less, long_lived

    inside = threading.Event()
    release = threading.Event()

    def first() -> None:
        with collect_less(), long_lived():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    with collect_less():
        with long_lived():  # starts while the first reads, ends after it
            release.set()
            thread.join()
            assert not gc.isenabled()
        assert gc.isenabled() and gc.get_freeze_count() > 0  # frozen until the last check ends
    assert gc.isenabled() and gc.get_freeze_count() == 0

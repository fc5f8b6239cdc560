"""dslint.installed reads entry points and versions as importlib.metadata does."""

from __future__ import annotations

import importlib.metadata as metadata
import sys
import zipfile
from pathlib import Path

import pytest

from dslint import installed, registry


def listed(entry_points: object) -> list[tuple[str, str, str]]:
    return [(ep.name, ep.value, ep.group) for ep in entry_points]  # type: ignore[attr-defined]


def groups() -> set[str]:
    return {ep.group for dist in metadata.distributions() for ep in dist.entry_points}


def test_this_environment_reads_the_same() -> None:
    """Every group of every installed package, in importlib.metadata's order, and the
    version of every distribution it finds first under each name."""
    assert {"dslint.rules", "dslint.reporters"} <= groups()
    for group in sorted(groups()):
        found = installed.entry_points(group)
        assert found is not None
        assert listed(found) == listed(metadata.entry_points(group=group)), group
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        assert installed.version(name) in (metadata.version(name), None), name
    assert installed.version("no-such-package-here") == ""
    assert installed.library_version("no-such-package-here") == "?"
    assert installed.library_version("jsonschema") == metadata.version("jsonschema")


def dist_info(site: Path, folder: str, entry_points: str | None) -> None:
    path = site / folder
    path.mkdir(parents=True)
    name, _, version = folder.rpartition(".")[0].partition("-")
    (path / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if entry_points is not None:
        (path / "entry_points.txt").write_text(entry_points)


def test_a_made_up_environment_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    dist_info(
        first,
        "acme_rules-1.2.dist-info",
        "# a comment\n\n[dslint.rules]\n  acme =  acme_rules.x:RULES  \n# off = acme_rules.z:RULES\n"
        "tidy=acme_rules.y:Thing.RULES [extra]\n[other]\nz = m:n\n",
    )
    dist_info(first, "quiet-0.1.dist-info", None)  # declares nothing
    dist_info(first, "Zeta.Pkg-3.0.dist-info", "[dslint.reporters]\nzeta = zeta.r:Reporter\n")
    # Another copy of acme further down sys.path: shadowed, as importlib.metadata shadows it.
    dist_info(second, "Acme_Rules-9.9.dist-info", "[dslint.rules]\nshadowed = nowhere:RULES\n")
    dist_info(second, "later-2.0.dist-info", "[dslint.rules]\nlater = later.rules:RULES\n")
    monkeypatch.setattr(sys, "path", [str(first), str(tmp_path / "missing"), str(second)])
    for group in ("dslint.rules", "dslint.reporters", "other"):
        found = installed.entry_points(group)
        assert found is not None
        assert listed(found) == listed(metadata.entry_points(group=group)), group
    assert listed(installed.entry_points("dslint.rules") or []) == [
        ("acme", "acme_rules.x:RULES", "dslint.rules"),
        ("tidy", "acme_rules.y:Thing.RULES [extra]", "dslint.rules"),
        ("later", "later.rules:RULES", "dslint.rules"),
    ]
    for name in ("acme-rules", "ACME.rules", "zeta_pkg", "later", "quiet"):
        assert installed.version(name) == metadata.version(name), name


def test_an_entry_point_loads_what_importlib_metadata_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "probe_module.py").write_text("class Outer:\n    class Inner:\n        VALUE = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for value in ("probe_module:Outer.Inner.VALUE", "probe_module", "probe_module:Outer [x]"):
        ours = installed.EntryPoint("p", value, "g", installed.Distribution("d"))
        theirs = metadata.EntryPoint(name="p", value=value, group="g")
        assert ours.load() is theirs.load()
        assert ours.module == theirs.module


def test_what_only_importlib_metadata_reads_is_left_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip file on sys.path (or an egg, or a finder of distributions) is read by
    importlib.metadata: the registry then asks it and finds the same entry points."""
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("zipped-1.0.dist-info/METADATA", "Name: zipped\nVersion: 1.0\n")
        bundle.writestr("zipped-1.0.dist-info/entry_points.txt", "[dslint.rules]\nz = z:R\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(archive)])
    assert installed.entry_points(registry.RULES_GROUP) is None
    assert installed.version("zipped") is None
    found = listed(registry.entry_points(group=registry.RULES_GROUP))
    assert ("z", "z:R", registry.RULES_GROUP) in found
    assert found == listed(metadata.entry_points(group=registry.RULES_GROUP))
    assert installed.library_version("zipped") == "1.0"

"""Configuration: discovery, validation, overrides, per-file ignores and rule options."""

from __future__ import annotations

from pathlib import Path

import pytest

import dslint
from conftest import TODAY, clean_chat, jsonl, located
from dslint.config import ConfigError, find_config
from dslint.loader import InputError
from dslint.report import Report

BAD_LINE = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant"}]}\n'


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_nearest_config_wins(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.dslint]\nignore = ["S104"]\n')
    write(tmp_path / "strict", "dslint.toml", 'select = ["S"]\n')
    write(tmp_path / "other", "pyproject.toml", '[project]\nname = "x"\n')  # no [tool.dslint]
    loose = write(tmp_path / "data", "a.jsonl", jsonl(*clean_chat(50)) + BAD_LINE)
    strict = write(tmp_path / "strict", "b.jsonl", jsonl(*clean_chat(50)) + BAD_LINE)
    other = write(tmp_path / "other", "c.jsonl", jsonl(*clean_chat(50)) + BAD_LINE)
    assert find_config(loose) == tmp_path / "pyproject.toml"
    assert find_config(other) == tmp_path / "pyproject.toml"
    report = dslint.check([loose, strict, other], today=TODAY)
    assert [(Path(f.path).name, f.code) for f in report.findings] == [("b.jsonl", "S104")]


def test_explicit_config_file(tmp_path: Path) -> None:
    data = write(tmp_path, "a.jsonl", jsonl(*clean_chat(50)) + BAD_LINE)
    config = write(
        tmp_path / "elsewhere", "dslint.toml", '[tool.dslint]\nignore = ["missing-content"]\n'
    )
    assert dslint.check([data], config=config, today=TODAY).findings == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = true\n", "unknown key 'colour'"),
        ('select = "S1"\nfail-on = "sometimes"\n', "'fail-on' must be one of"),
        ('severity = { S104 = "fatal" }\n', "unknown severity 'fatal'"),
        ("[rules.S014]\nrecomended = 3\n", "has no option 'recomended'"),
        ('[rules.S014]\nrecommended = "many"\n', "expects int"),
        ("[rules.S999]\nx = 1\n", "'S999' is not a rule code or name"),
        ('per-file-ignores = { "*.jsonl" = ["Z9"] }\n', "'Z9' matches no rule"),
        ("select = [\n", "invalid TOML"),
    ],
)
def test_config_errors_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    data = write(tmp_path, "a.jsonl", jsonl(*clean_chat(50)))
    write(tmp_path, "dslint.toml", text)
    with pytest.raises(ConfigError, match=message):
        dslint.check([data], today=TODAY)


def test_severity_override_and_per_file_ignores(tmp_path: Path) -> None:
    write(
        tmp_path,
        "dslint.toml",
        'severity = { S104 = "info", "S1" = "warning" }\n'
        'per-file-ignores = { "legacy/*.jsonl" = ["S104"] }\n',
    )
    current = write(tmp_path / "data", "a.jsonl", jsonl(*clean_chat(50)) + BAD_LINE)
    old = write(tmp_path / "legacy", "b.jsonl", jsonl(*clean_chat(50)) + BAD_LINE)
    report = dslint.check([current, old], today=TODAY)
    assert [(f.code, f.severity.value, Path(f.path).name) for f in report.findings] == [
        ("S104", "info", "a.jsonl")  # the most specific override wins
    ]
    assert report.exit_code() == 0


def test_rule_options_from_config(tmp_path: Path) -> None:
    data = write(tmp_path, "a.jsonl", jsonl(*clean_chat(50)))
    write(tmp_path, "dslint.toml", "[rules.few-examples]\nrecommended = 100\n")
    assert located(dslint.check([data], today=TODAY).findings) == [("S014", None, "")]


def test_model_from_config_and_custom_models(tmp_path: Path) -> None:
    data = write(
        tmp_path, "a.jsonl", jsonl(*[{"prompt": f"a{i}", "completion": "b"} for i in range(50)])
    )
    write(
        tmp_path,
        "dslint.toml",
        'model = "my-llama"\n[models.my-llama]\nencoding = "cl100k_base"\nmax_tokens = 8192\n'
        'formats = ["legacy"]\n',
    )
    report = dslint.check([data], today=TODAY)
    assert report.files[0].model == "my-llama"
    assert report.findings == ()


def test_fine_tuned_ids_resolve_to_their_base_model() -> None:
    from dslint.models import resolve

    target = resolve("ft:gpt-4.1-mini-2025-04-14:acme:support-v2:AbC123")
    assert target.name == "gpt-4.1-mini-2025-04-14"
    assert target.encoding == "o200k_base"
    assert resolve("gpt-4o-mini").name == "gpt-4o-mini-2024-07-18"


def test_validation_pairing_from_config(tmp_path: Path) -> None:
    train = write(tmp_path, "train.jsonl", jsonl(*clean_chat(50)))
    write(tmp_path, "val.jsonl", jsonl(*clean_chat(12)))
    write(tmp_path, "dslint.toml", 'validation = { "train.jsonl" = "val.jsonl" }\n')
    report = dslint.check([train], today=TODAY)
    assert [(Path(f.path).name, f.split) for f in report.files] == [
        ("train.jsonl", "train"),
        ("val.jsonl", "validation"),
    ]
    dataset = report.datasets[0]
    assert dataset.records["split"].value_counts().to_dict() == {"train": 50, "validation": 12}


def leaking_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A training file with one bad line, and a validation file with one of its examples."""
    examples = clean_chat(60)
    examples[7] = {"messages": [{"role": "user", "content": "Where is it?"}, {"role": "assistant"}]}
    train = write(tmp_path, "train.jsonl", jsonl(*examples))
    held_out = [{"messages": [{"role": "user", "content": f"Held-out question {i}?"},
                              {"role": "assistant", "content": f"Held-out answer {i}."}]}
                for i in range(11)]  # fmt: skip
    val = write(tmp_path, "val.jsonl", jsonl(*held_out, examples[3]))
    return train, val


def placed(report: Report) -> list[tuple[str, str, int | None]]:
    return sorted((f.code, Path(f.path).name, f.line) for f in report.findings)


def test_a_validation_file_among_the_inputs_is_checked_once_as_one(tmp_path: Path) -> None:
    """pre-commit passes both files when both changed, and a folder holds both: the validation
    file must not also be a training file of its own (it was compared with itself, and each
    of its examples called a leak)."""
    train, val = leaking_pair(tmp_path)
    write(tmp_path, "dslint.toml", 'validation = { "train.jsonl" = "val.jsonl" }\n')
    expected = [("D004", "val.jsonl", 12), ("S104", "train.jsonl", 8)]
    for inputs in ([train], [train, val], [val, train], [tmp_path]):
        report = dslint.check(inputs, today=TODAY)
        assert placed(report) == expected, inputs
        assert [(Path(f.path).name, f.split) for f in report.files] == [
            ("train.jsonl", "train"), ("val.jsonl", "validation")]  # fmt: skip
    # The same when the validation file is named on the command line instead of the config.
    (tmp_path / "dslint.toml").unlink()
    report = dslint.check([train, val], validation=[val], today=TODAY)
    assert placed(report) == expected


def test_a_validation_file_given_alone_is_compared_with_its_training_file(
    tmp_path: Path,
) -> None:
    """pre-commit passes only the files a commit changed: a changed validation file is still
    compared with its training file, whose own findings are not shown."""
    _, val = leaking_pair(tmp_path)
    write(tmp_path, "dslint.toml", 'validation = { "train.jsonl" = "val.jsonl" }\n')
    report = dslint.check([val], today=TODAY)
    assert placed(report) == [("D004", "val.jsonl", 12)]
    assert [(Path(f.path).name, f.split) for f in report.files] == [("val.jsonl", "validation")]
    assert any("compared with their training files" in note and "train.jsonl" in note
               for note in report.notes)  # fmt: skip
    # A pattern pairs every training file it matches; a missing training file is an error.
    write(tmp_path, "dslint.toml", 'validation = { "*.jsonl" = "val.jsonl" }\n')
    write(tmp_path, "more.jsonl", jsonl(*clean_chat(60)))  # holds the leaked example too
    report = dslint.check([val], today=TODAY)
    sources = [Path(f.message.split("(")[1].split(")")[0]).name for f in report.findings
               if f.code == "D004" and f.line == 12]  # fmt: skip
    assert sorted(sources) == ["more.jsonl line 4", "train.jsonl line 4"]
    # A pattern that matches no training file: the validation file is checked as given.
    write(tmp_path, "dslint.toml", 'validation = { "data/*.jsonl" = "val.jsonl" }\n')
    report = dslint.check([val], today=TODAY)
    assert [(Path(f.path).name, f.split) for f in report.files] == [("val.jsonl", "train")]
    write(tmp_path, "dslint.toml", 'validation = { "gone.jsonl" = "val.jsonl" }\n')
    with pytest.raises(InputError, match=r"gone\.jsonl: training file named in"):
        dslint.check([val], today=TODAY)

"""``dslint stats``: distribution, billed tokens, epochs, cost; JSON shape and text table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import CORPUS, TODAY, chat, clean_chat, jsonl, needs_corpus
from dslint import stats
from dslint.cli import cli

DISTRIBUTION = {"total", "min", "p5", "median", "mean", "p95", "max"}


def run_stats(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(cli, ["stats", "--format", "json", "--today", "2026-11-24", *args])
    return result.exit_code, json.loads(result.stdout) if result.exit_code == 0 else result.stderr


@pytest.mark.parametrize(
    ("examples", "epochs"),
    [(1, 25), (5, 20), (10, 10), (33, 3), (34, 3), (50, 3), (8_333, 3), (8_334, 2), (30_000, 1)],
)
def test_default_epochs(examples: int, epochs: int) -> None:
    assert stats.default_epochs(examples) == epochs


@needs_corpus
def test_toy_file_json_shape_and_figures() -> None:
    toy = CORPUS / "openai-cookbook__toy_chat_fine_tuning.jsonl"
    code, data = run_stats(str(toy), "--model", "gpt-3.5-turbo")
    assert code == 0
    [entry] = data["files"]
    required = {"path", "model", "encoding", "examples", "tokens", "assistant_tokens",
                "billed_tokens", "epochs", "estimated_cost_usd"}  # fmt: skip
    assert required <= set(entry)
    assert set(entry["tokens"]) == DISTRIBUTION == set(entry["assistant_tokens"])
    assert (entry["model"], entry["encoding"], entry["examples"]) == (
        "gpt-3.5-turbo-0125",
        "cl100k_base",
        5,
    )
    assert (entry["tokens"]["min"], entry["tokens"]["max"]) == (26, 8032)
    assert (entry["assistant_tokens"]["min"], entry["assistant_tokens"]["max"]) == (4, 8000)
    assert entry["billed_tokens"] == entry["tokens"]["total"]
    assert entry["epochs"] == 20
    assert entry["estimated_cost_usd"] == round(8.00 * entry["billed_tokens"] * 20 / 1e6, 2)
    assert entry["inference_per_million"] == {"input": 3.0, "output": 6.0}


def test_billed_tokens_cap_each_example_at_the_limit(tmp_path: Path) -> None:
    (tmp_path / "dslint.toml").write_text(
        '[tool.dslint.models.small]\nencoding = "cl100k_base"\nmax_tokens = 50\n'
        "training_per_million = 10.0\n"
    )
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(chat("Hi", "word " * 200), *clean_chat(9)), encoding="utf-8")
    code, data = run_stats(str(path), "--model", "small")
    assert code == 0
    [entry] = data["files"]
    assert entry["over_limit"] == 1
    assert entry["tokens"]["max"] > 200
    others = entry["tokens"]["total"] - entry["tokens"]["max"]
    assert entry["billed_tokens"] == others + 50
    assert entry["epochs"] == 10
    assert entry["estimated_cost_usd"] == round(10.0 * entry["billed_tokens"] * 10 / 1e6, 2)


def test_validation_files_are_not_charged(tmp_path: Path) -> None:
    train, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    train.write_text(jsonl(*clean_chat(20)), encoding="utf-8")
    valid.write_text(jsonl(*clean_chat(5)), encoding="utf-8")
    code, data = run_stats(str(train), "--validation", str(valid))
    assert code == 0
    by_split = {e["split"]: e for e in data["files"]}
    assert by_split["train"]["estimated_cost_usd"] > 0
    assert by_split["validation"]["examples"] == 5
    assert by_split["validation"]["billed_tokens"] > 0
    assert by_split["validation"]["estimated_cost_usd"] is None


def test_a_validation_file_among_the_inputs_is_listed_as_one(tmp_path: Path) -> None:
    """Named first, or alone, a validation file the config pairs is still a validation file
    (not charged), and its training file is listed only when asked for."""
    train, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    train.write_text(jsonl(*clean_chat(20)), encoding="utf-8")
    valid.write_text(jsonl(*clean_chat(5)), encoding="utf-8")
    (tmp_path / "dslint.toml").write_text('validation = { "train.jsonl" = "valid.jsonl" }\n')
    for inputs, listed in (((valid, train), ["validation", "train"]),
                           ((valid,), ["validation"])):  # fmt: skip
        code, data = run_stats(*map(str, inputs))
        assert code == 0
        assert sorted(e["split"] for e in data["files"]) == sorted(listed)
        (held,) = [e for e in data["files"] if e["split"] == "validation"]
        assert Path(held["path"]).name == "valid.jsonl" and held["estimated_cost_usd"] is None


def test_all_models_table(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*clean_chat(10)), encoding="utf-8")
    code, data = run_stats(str(path), "--all-models")
    assert code == 0
    rows = {row["model"]: row for row in data["files"][0]["models"]}
    assert "davinci-002" not in rows and "o4-mini-2025-04-16" not in rows  # other formats
    assert rows["gpt-3.5-turbo-0125"]["encoding"] == "cl100k_base"
    assert rows["gpt-4.1-2025-04-14"]["estimated_cost_usd"] == round(
        25.0 * rows["gpt-4.1-2025-04-14"]["billed_tokens"] * 10 / 1e6, 2
    )
    # The target's own row equals the file's figures.
    entry = data["files"][0]
    assert rows[entry["model"]]["billed_tokens"] == entry["billed_tokens"]


def test_vision_estimate_names_the_assumed_size(tmp_path: Path) -> None:
    part = {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}}
    example = {"messages": [{"role": "user", "content": [part]},
                            {"role": "assistant", "content": "A cat."}]}  # fmt: skip
    path = tmp_path / "vision.jsonl"
    path.write_text(jsonl(*[example] * 10), encoding="utf-8")
    code, data = run_stats(str(path))
    assert code == 0
    entry = data["files"][0]
    assert entry["model"] == "gpt-4o-2024-08-06"
    assert entry["images_estimated"] == {"images": 10, "assumed_size": "1024x1024",
                                         "tokens_each": 765}  # fmt: skip
    text = CliRunner().invoke(cli, ["stats", str(path)]).stdout
    assert "assumed 1024x1024" in text


def test_text_table(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*clean_chat(10)), encoding="utf-8")
    result = CliRunner().invoke(cli, ["stats", str(path), "--all-models"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == str(path) or lines[0].endswith("data.jsonl")
    assert any(line.split()[:7] == list(stats.DISTRIBUTION_KEYS) for line in lines)
    assert any(line.strip().startswith("tokens per example") for line in lines)
    assert any("estimated training cost: $" in line for line in lines)
    assert any(line.strip().startswith("gpt-4o-mini-2024-07-18") for line in lines)


def test_files_without_counts(tmp_path: Path) -> None:
    path = tmp_path / "sharegpt.jsonl"
    path.write_text(jsonl({"conversations": [{"from": "human", "value": "hi"}]}), encoding="utf-8")
    code, data = run_stats(str(path))
    assert code == 0
    assert data["files"][0]["tokens"] is None


def test_extra_file_stats_providers(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def provider(dataset: Any, info: Any) -> dict[str, Any]:
        return {"exact_duplicate_share": 0.25}

    monkeypatch.setattr(stats, "EXTRA_FILE_STATS", [provider])
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*clean_chat(10)), encoding="utf-8")
    _, data = run_stats(str(path))
    assert data["files"][0]["exact_duplicate_share"] == 0.25
    text = CliRunner().invoke(cli, ["stats", str(path)]).stdout
    assert "exact duplicate share: 0.25" in text


def test_unknown_model_and_missing_path_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(jsonl(*clean_chat(10)), encoding="utf-8")
    code, error = run_stats(str(path), "--model", "gpt-5-nano")
    assert code == 2 and "unknown model" in error and error.count("\n") == 1
    code, error = run_stats(str(tmp_path / "absent.jsonl"))
    assert code == 2 and "no such file" in error


def test_rft_is_priced_per_hour(tmp_path: Path) -> None:
    example = {"messages": [{"role": "developer", "content": "Grade it."},
                            {"role": "user", "content": "2+2?"}], "answer": "4"}  # fmt: skip
    path = tmp_path / "rft.jsonl"
    path.write_text(jsonl(*[example] * 10), encoding="utf-8")
    _, data = run_stats(str(path))
    entry = data["files"][0]
    assert entry["model"] == "o4-mini-2025-04-16"
    assert entry["estimated_cost_usd"] is None and entry["training_per_hour"] == 100.0
    assert "billed per hour" in CliRunner().invoke(cli, ["stats", str(path)]).stdout


def test_stats_report_the_share_of_duplicates(tmp_path: Path) -> None:
    examples = clean_chat(10)
    path = tmp_path / "d.jsonl"
    path.write_text(jsonl(*examples, examples[2], examples[2]), encoding="utf-8")
    entry = stats.collect([path], today=TODAY).to_dict()["files"][0]
    assert entry["duplicates"] == {"exact_duplicates": round(2 / 12, 4), "near_duplicates": 0.0}
    assert "16.7% exact copies" in stats.render_text(stats.collect([path], today=TODAY))

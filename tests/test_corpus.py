"""Real public fine-tuning files (../shared/corpus/real): what dslint says about data nobody
here wrote. Skipped when the corpus is absent."""

from __future__ import annotations

import pytest

import dslint
from conftest import CORPUS, TODAY, needs_corpus

pytestmark = needs_corpus


def check(name: str, **kwargs: object) -> list[tuple[str, str]]:
    report = dslint.check([CORPUS / name], today=TODAY, **kwargs)  # type: ignore[arg-type]
    return [(f.code, f.severity.value) for f in report.findings]


def schema_errors(name: str, **kwargs: object) -> list[tuple[str, str]]:
    return [(c, s) for c, s in check(name, select=["S"], **kwargs) if s == "error"]


def test_cookbook_toy_file_is_under_the_minimum() -> None:
    assert ("S013", "error") in check("openai-cookbook__toy_chat_fine_tuning.jsonl")


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("microsoft-foundry__stock_toolcall_validation.jsonl", "gpt-4o-mini-2024-07-18"),
        ("microsoft-foundry__orca_dpo_pairs_validation.jsonl", "gpt-4.1-mini-2025-04-14"),
        ("microsoft-foundry__chartqa_vision_validation.jsonl", "gpt-4o-2024-08-06"),
        ("microsoft-foundry__rft_valid_tool.jsonl", "o4-mini-2025-04-16"),
        ("CameronVetter-FineTuning-A-Pirate__training_set.jsonl", "gpt-4.1-2025-04-14"),
        ("atilsamancioglu-FineTuningTR__training_set.jsonl", "gpt-3.5-turbo-0125"),
        ("GBurgardt-charly-garcia-IA__fine_tuning_data.jsonl", "gpt-4o-mini-2024-07-18"),
    ],
)
def test_valid_files_get_no_schema_error(name: str, model: str) -> None:
    assert schema_errors(name, model=model) == []
    assert schema_errors(name) == []  # nor with the default target for their format


def test_crlf_file_is_fine() -> None:
    assert schema_errors("kanha95-OpenAI_Finetuning__fine_tuning_data_val.jsonl") == []


def test_llama_factory_file_is_recognised_as_the_wrong_format() -> None:
    findings = check("studipu-web3_fintuning__training_set.jsonl")
    assert ("S020", "error") in findings
    assert len([c for c, s in findings if s == "error"]) == 1  # one finding, not one per line


def test_prompt_completion_file_is_legacy() -> None:
    assert ("S024", "warning") in check(
        "azure-samples-openai__context_switching_prepared_train.jsonl"
    )
    assert ("S023", "error") in check(
        "azure-samples-openai__context_switching_prepared_train.jsonl", model="gpt-4o-mini"
    )
    assert (
        schema_errors(
            "azure-samples-openai__context_switching_prepared_train.jsonl", model="davinci-002"
        )
        == []
    )


def test_every_file_checks_without_an_internal_error() -> None:
    report = dslint.check(sorted(CORPUS.glob("*.jsonl")), today=TODAY)
    assert len(report.files) == 11
    assert report.examples == 976

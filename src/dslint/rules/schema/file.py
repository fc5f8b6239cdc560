"""File-level rules: size, example counts, extension and format (S010-S024)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dslint import formats
from dslint.finding import Category, Hit, Severity
from dslint.loader import FileInfo
from dslint.rule import FileRule
from dslint.textutil import plural


class EmptyFile(FileRule):
    """The file holds no example at all.

    An empty upload fails; usually the export step wrote nothing.
    """

    code = "S010"
    name = "empty-file"
    category = Category.SCHEMA
    severity = Severity.ERROR

    def check(self, file: FileInfo) -> Iterator[Hit]:
        if file.examples == 0 and not (file.lfs_pointer or file.read_error or file.binary):
            yield Hit("the file holds no examples")


class LfsPointer(FileRule):
    """The file is a Git LFS pointer, not the data.

    CI checkouts often skip LFS objects (``actions/checkout`` needs ``lfs: true``); checking or
    uploading the pointer would be meaningless. Run ``git lfs pull`` first.
    """

    code = "S011"
    name = "lfs-pointer"
    category = Category.SCHEMA
    severity = Severity.ERROR

    def check(self, file: FileInfo) -> Iterator[Hit]:
        if file.lfs_pointer:
            yield Hit(
                "this is a Git LFS pointer file, not the dataset: the data is not checked out "
                "(run 'git lfs pull', or set 'lfs: true' on actions/checkout)"
            )


class DamagedFile(FileRule):
    """The file could not be read to its end (a truncated gzip stream, an I/O error).

    Examples after the damage were not checked; the upload would be incomplete or fail.
    """

    code = "S012"
    name = "damaged-file"
    category = Category.SCHEMA
    severity = Severity.ERROR

    def check(self, file: FileInfo) -> Iterator[Hit]:
        if file.read_error:
            yield Hit(file.read_error)


class BinaryFile(FileRule):
    """The file is binary data, not JSONL text (for example Parquet, a ZIP archive, an image).

    Reported once for the file instead of one finding per "line" of binary data; nothing in it
    is checked. Convert the data to JSONL first (a Parquet file: ``pandas.read_parquet(...)
    .to_json(out, orient="records", lines=True)``).
    """

    code = "S017"
    name = "binary-file"
    category = Category.SCHEMA
    severity = Severity.ERROR

    def check(self, file: FileInfo) -> Iterator[Hit]:
        if file.binary:
            yield Hit(file.binary)


class ChangedWhileRead(FileRule):
    """The file changed while dslint was reading it (its size or time stamp moved).

    The findings describe a mix of old and new content. Check it again once whatever writes
    the file (an export, a download, a sync) has finished.
    """

    code = "S018"
    name = "changed-while-read"
    category = Category.SCHEMA
    severity = Severity.ERROR

    def check(self, file: FileInfo) -> Iterator[Hit]:
        if file.changed:
            yield Hit(file.changed)


class TooFewExamples(FileRule):
    """Fewer than 10 examples: the API refuses the file.

    The API's error is "Training file has N example(s), but must have at least 10 examples".
    """

    code = "S013"
    name = "too-few-examples"
    category = Category.SCHEMA
    severity = Severity.ERROR

    def check(self, file: FileInfo) -> Iterator[Hit]:
        if 0 < file.examples < 10:
            yield Hit(
                f"the file has {plural(file.examples, 'example')}; fine-tuning needs at least 10"
            )


@dataclass(frozen=True)
class FewExamplesOptions:
    recommended: int = 50


class FewExamples(FileRule):
    """Fewer training examples than the documented starting point (50 to 100 examples).

    Training runs, but results are usually weak; OpenAI's guide suggests starting at 50. A
    validation file is not held to it: a small held-out set is common and useful.
    """

    code = "S014"
    name = "few-examples"
    category = Category.QUALITY
    severity = Severity.INFO
    options_type = FewExamplesOptions

    def check(self, file: FileInfo) -> Iterator[Hit]:
        recommended = self.options.recommended
        if file.split == "train" and 10 <= file.examples < recommended:
            yield Hit(
                f"the file has {plural(file.examples, 'example')}; {recommended} or more "
                "well-made examples is the usual starting point"
            )


@dataclass(frozen=True)
class FileTooLargeOptions:
    max_bytes: int = 512 * 1024 * 1024


class FileTooLarge(FileRule):
    """The file is larger than the Files API accepts in one upload (512 MB).

    Use the Uploads API (parts of at most 64 MB, up to 8 GB) or split the data.
    """

    code = "S015"
    name = "file-too-large"
    category = Category.SCHEMA
    severity = Severity.WARNING
    options_type = FileTooLargeOptions

    def check(self, file: FileInfo) -> Iterator[Hit]:
        if file.size > self.options.max_bytes:
            yield Hit(
                f"the file is {file.size / 1_000_000:,.0f} MB; one Files API upload takes at most "
                f"{self.options.max_bytes / 1_048_576:,.0f} MB (use the Uploads API or split it)"
            )


class WrongExtension(FileRule):
    """The file name does not end in ``.jsonl``, the only extension the upload accepts.

    A ``.jsonl.gz`` file is reported as info: decompress it before upload.
    """

    code = "S016"
    name = "wrong-extension"
    category = Category.SCHEMA
    severity = Severity.WARNING

    def check(self, file: FileInfo) -> Iterator[Hit]:
        name = file.real_path.name.lower()
        if name.endswith(".jsonl"):
            return
        if name.endswith((".jsonl.gz", ".ndjson.gz")) or file.gzip:
            yield Hit(
                "compressed file: the fine-tuning upload takes plain .jsonl, so decompress it first",
                severity=Severity.INFO,
            )
        else:
            yield Hit(f"'{file.real_path.name}' does not end in .jsonl; the upload requires .jsonl")


class LookalikeFormat(FileRule):
    """The file is in a trainer's format the fine-tuning APIs do not accept.

    ShareGPT / LLaMA-Factory (``conversations`` with ``from``/``value``, roles ``human``/``gpt``)
    and Alpaca (``instruction``/``input``/``output``) files are common on the Hub. The API would
    reject every line; this rule says so once, with how to convert, instead of one error per line.
    """

    code = "S020"
    name = "lookalike-format"
    category = Category.SCHEMA
    severity = Severity.ERROR

    def check(self, file: FileInfo) -> Iterator[Hit]:
        if file.format in formats.LOOKALIKES:
            count = file.formats.get(file.format, 0)
            yield Hit(
                f"{plural(count, 'line')} use the {formats.DESCRIPTIONS[file.format]} format, "
                f"which fine-tuning APIs do not accept: {formats.CONVERSION_HINTS[file.format]}"
            )


class MixedFormats(FileRule):
    """One file mixes training formats (for example chat and DPO lines).

    A fine-tuning job takes one method and one format per file; the odd lines fail. The
    message names the first lines in another format than the file's, so that a few stray
    lines in a large file can be found.
    """

    code = "S021"
    name = "mixed-formats"
    category = Category.SCHEMA
    severity = Severity.ERROR

    def check(self, file: FileInfo) -> Iterator[Hit]:
        present = {k: v for k, v in file.formats.items() if k != "unknown" and v}
        if len(present) > 1:
            parts = ", ".join(
                f"{plural(n, 'line')} {formats.DESCRIPTIONS[k]}"
                for k, n in sorted(present.items(), key=lambda kv: -kv[1])
            )
            odd = sum(n for k, n in present.items() if k != file.format)
            named = [str(line) for line in file.odd_lines]
            if odd > len(named):
                named.append(plural(odd - len(named), "more line"))
            listed = (
                ", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else "".join(named)
            )
            where = f"; the other formats are on {'line' if odd == 1 else 'lines'} {listed}"
            yield Hit(
                f"the file mixes formats ({parts}); keep one format per file "
                f"(the file is checked as {formats.DESCRIPTIONS[file.format]}"
                f"{where if file.odd_lines else ''})"
            )


class UnknownFormat(FileRule):
    """No line of the file looks like any fine-tuning format.

    The API's message is "Unexpected file format, expected either prompt/completion pairs or
    chat messages".
    """

    code = "S022"
    name = "unknown-format"
    category = Category.SCHEMA
    severity = Severity.ERROR

    def check(self, file: FileInfo) -> Iterator[Hit]:
        if file.objects and file.format == "unknown":
            yield Hit(
                "no line has the keys of a known format: chat lines need 'messages', DPO lines "
                "'input', 'preferred_output' and 'non_preferred_output', legacy lines 'prompt' "
                "and 'completion'"
            )


class FormatNotAccepted(FileRule):
    """The target model does not accept this file's format (or its images).

    For example a DPO file for gpt-3.5-turbo, prompt/completion pairs for a chat model, or
    images for a model without vision fine-tuning. Pick a model that takes the format
    (``--model``), or convert the data.
    """

    code = "S023"
    name = "format-not-accepted"
    category = Category.SCHEMA
    severity = Severity.ERROR

    def check(self, file: FileInfo) -> Iterator[Hit]:
        target = file.target
        if target is None or file.format not in formats.ACCEPTED:
            return
        if file.format not in target.formats:
            takers = _models_accepting(file.format)
            yield Hit(
                f"{target.name} does not accept {formats.DESCRIPTIONS[file.format]} data"
                + (f" (models that do: {', '.join(takers)})" if takers else "")
            )
        elif file.image_examples and not target.accepts_vision:
            takers = _models_accepting("vision")
            yield Hit(
                f"{plural(file.image_examples, 'example')} contain images, but {target.name} "
                f"has no vision fine-tuning (models that do: {', '.join(takers)})"
            )


def _models_accepting(fmt: str) -> list[str]:
    from dslint.models import known_models

    return [name for name, target in known_models().items() if fmt in target.formats][:4]


class LegacyFormat(FileRule):
    """The file uses the legacy prompt/completion format.

    Only babbage-002 and davinci-002 accept it; every current model needs chat ``messages``.
    Shown when no ``--model`` is set (with a chat model set, S023 reports it as an error).
    """

    code = "S024"
    name = "legacy-format"
    category = Category.SCHEMA
    severity = Severity.WARNING

    def check(self, file: FileInfo) -> Iterator[Hit]:
        if file.format == "legacy" and not self.context.model_given:
            checked = f"; checked against {file.target.name}" if file.target else ""
            yield Hit(
                "prompt/completion pairs are accepted only by babbage-002 and davinci-002; "
                "current models need chat 'messages' (user = prompt, assistant = completion)"
                + checked
            )


RULES = [EmptyFile, LfsPointer, DamagedFile, BinaryFile, ChangedWhileRead, TooFewExamples,
         FewExamples, FileTooLarge, WrongExtension, LookalikeFormat, MixedFormats, UnknownFormat, FormatNotAccepted,
         LegacyFormat]  # fmt: skip

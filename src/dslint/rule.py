"""The rule API: what a rule declares and what it is given to look at.

A rule is a small class with its metadata at the top and a ``check`` generator that yields
:class:`~dslint.finding.Hit` objects. Its docstring is its documentation (``dslint rule CODE``
and ``docs/rules.md`` are generated from it). Three kinds exist, by what they see:

* :class:`RecordRule`: one parsed line at a time, while the file streams in. Cheap and local
  (schema, per-message checks). Nothing of the record is kept for it afterwards.
* :class:`FileRule`: one input file's summary (size, counts, detected format).
* :class:`DatasetRule`: the whole dataset as frames (``records`` and ``messages``), for rules
  that compare examples (duplicates, voice consistency, token distribution). They should work
  on compact columns so that they vectorise and could later run per partition.

Options are a frozen dataclass named by ``options_type``; the config fills it by field name,
and unknown names or wrong types are rejected with the rule and option named.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from dslint.finding import Category, Hit, Severity

if TYPE_CHECKING:
    from dslint.dataset import Dataset
    from dslint.engine import RunContext
    from dslint.loader import FileInfo, Record


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """The options of a rule that has none."""


class Rule:
    """Base of every rule. Subclass one of the three kinds below, not this."""

    code: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[Category]
    severity: ClassVar[Severity]
    enabled_by_default: ClassVar[bool] = True
    options_type: ClassVar[type[Any]] = NoOptions
    #: Codes this rule used to have; ``--select``/``--ignore`` and baselines still match them.
    aliases: ClassVar[tuple[str, ...]] = ()
    #: Set by the engine before a run: the config, today's date and the target models.
    context: RunContext

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.options_type()

    @classmethod
    def summary(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0].strip() if doc else cls.name

    @classmethod
    def documentation(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or cls.name)

    @classmethod
    def option_fields(cls) -> list[dataclasses.Field[Any]]:
        return list(dataclasses.fields(cls.options_type))


class RecordRule(Rule):
    """A rule over one parsed record.

    ``formats`` limits it to records of those formats (see :mod:`dslint.formats`); ``None``
    means every parsed JSON object. ``needs_object = False`` also sends it the lines that did
    not parse (the loader's own problems are reported this way).
    """

    formats: ClassVar[frozenset[str] | None] = None
    needs_object: ClassVar[bool] = True
    #: A cheap pre-filter: when set, the rule only runs on lines whose raw text contains one
    #: of these strings (e.g. '"tool_calls"'). Lines with \u escapes always run, since an
    #: escaped key would hide from a plain substring test.
    triggers: ClassVar[tuple[str, ...]] = ()
    #: Only lines the loader found a problem with (the rules reporting those problems): the
    #: engine skips the rule on every clean line without calling it.
    needs_problems: ClassVar[bool] = False

    def check(self, record: Record) -> Iterable[Hit]:
        raise NotImplementedError


class FileRule(Rule):
    """A rule over one input file's summary; hits are file-level (no line)."""

    def check(self, file: FileInfo) -> Iterable[Hit]:
        raise NotImplementedError


class DatasetRule(Rule):
    """A rule over the whole dataset; hits name a record row, a file, or neither."""

    #: Prefixes of the ``dataset.cache`` entries this rule reads that rules share (the voice
    #: family's replies, counts and features). Once no rule still to run declares an entry,
    #: the engine drops it: at a million examples they held 1.4 GB to the end of the run.
    #: An entry a rule reads without declaring it is made again if it was dropped (time,
    #: never a wrong result); one that no rule declares is kept.
    shares: ClassVar[tuple[str, ...]] = ()
    #: True when the rule spreads its own work over both cores (token counting starts a
    #: helper process for part of its texts). While another family runs in a helper
    #: (dslint.offload), the engine runs such rules after the others, when that helper's core
    #: is more often free again: run earlier, three processes shared two cores.
    splits_over_cores: ClassVar[bool] = False

    def check(self, dataset: Dataset) -> Iterable[Hit]:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Load what :meth:`check` will need (a model, say). The engine calls it in a
        background thread when a run starts, so the loading overlaps the reading of the
        files; it must be safe to call from another thread, and errors are left to check."""


class OptionError(ValueError):
    """A rule option from the config has an unknown name or a wrong type."""


def build_options(rule: type[Rule], values: Mapping[str, Any]) -> Any:
    """Fill ``rule.options_type`` from a config mapping, checking names and types."""
    fields = {f.name.replace("_", "-"): f for f in dataclasses.fields(rule.options_type)}
    fields.update({f.name: f for f in dataclasses.fields(rule.options_type)})
    hints = typing.get_type_hints(rule.options_type)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        field = fields.get(key)
        if field is None:
            known = ", ".join(sorted(f.name for f in dataclasses.fields(rule.options_type)))
            raise OptionError(
                f"rule {rule.code} ({rule.name}) has no option {key!r}"
                + (f" (options: {known})" if known else " (it takes no options)")
            )
        expected = hints[field.name]
        if not _matches(value, expected):
            raise OptionError(
                f"option {key!r} of rule {rule.code} expects {_describe(expected)}, "
                f"got {type(value).__name__} {value!r}"
            )
        if isinstance(value, list):
            value = tuple(value)
        kwargs[field.name] = value
    return rule.options_type(**kwargs)


def _matches(value: Any, expected: Any) -> bool:
    origin = typing.get_origin(expected)
    if expected is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arm) for arm in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if origin in (tuple, list, frozenset):
        args = typing.get_args(expected)
        inner = args[0] if args else Any
        return isinstance(value, (list, tuple)) and all(_matches(v, inner) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(expected, type):
        return isinstance(value, expected)
    return True


def _describe(expected: Any) -> str:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(expected))
    if origin in (tuple, list, frozenset):
        args = typing.get_args(expected)
        return f"a list of {_describe(args[0])}" if args else "a list"
    if expected is type(None):
        return "nothing"
    return getattr(expected, "__name__", str(expected))

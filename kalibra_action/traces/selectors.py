"""One population a side: a native file may hold several (two providers or two prompts in one promptfoo
eval), and comparing their union would pool runs of different systems without a word.

A flat reader lists in SELECTORS the metadata paths that tell its populations apart. Over the objects
of one side that the side's `where` keeps, each selector must have one value; otherwise the load is an
error that lists the populations and the `where` that picks one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

from kalibra_action.errors import InputError
from kalibra_action.traces.fields import MISSING, resolve_first, text_form
from kalibra_action.traces.source import TraceFile
from kalibra_action.traces.where import Matcher

_SHOWN = 6  # populations listed in the error
_VALUE_TEXT = 80


class SelectorCheck:
    """The selector values seen on one side so far, across its files, per reader (each has its own
    SELECTORS: `inspect` may be given two tools' files)."""

    def __init__(self, where: Sequence[Matcher]) -> None:
        self.where = tuple(where)
        self.by_reader: dict[str, Counter[tuple[str, ...]]] = {}

    def objects(self, reader: object, tf: TraceFile,
                objs: Iterator[tuple[str, dict]]) -> Iterator[tuple[str, dict]]:
        """The reader's objects unchanged; at the end of the file, an InputError if the side now mixes
        populations."""
        selectors: tuple[str, ...] = tuple(getattr(reader, "SELECTORS", ()))
        if not selectors:
            yield from objs
            return
        name = getattr(reader, "NAME", "native")
        counts = self.by_reader.setdefault(name, Counter())
        for location, obj in objs:
            sources = _sources(obj)
            if self._kept(sources):
                counts[tuple(_value(sources, path) for path in selectors)] += 1
            yield location, obj
        if len(counts) > 1:
            raise self._mixed(tf, name, selectors, counts)

    def _kept(self, sources: tuple[dict, ...]) -> bool:
        """Whether the side's `where` keeps the object (the flat reader's lookup, without span fallback)."""
        return all(m.matches(resolve_first(sources, m.field)) for m in self.where)

    def _mixed(self, tf: TraceFile, name: str, selectors: tuple[str, ...],
               counts: Counter[tuple[str, ...]]) -> InputError:
        keys = sorted(counts)
        varying = [i for i in range(len(selectors)) if len({key[i] for key in keys}) > 1]
        # Name the populations by one selector when it alone tells them all apart (the provider of each).
        alone = next((i for i in varying if len({key[i] for key in keys}) == len(keys)), None)
        if alone is not None:
            varying = [alone]

        def label(key: tuple[str, ...]) -> str:
            return ", ".join(f"{selectors[i]} == {_short(key[i])}" for i in varying)

        listed = "; ".join(f"{label(key)} ({counts[key]} results)" for key in keys[:_SHOWN])
        more = f"; and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
        example = ", ".join(repr(f"{selectors[i]} == {_short(keys[0][i])}") for i in varying)
        return InputError(
            f"one side holds {len(keys)} {name} populations, which would be pooled into one: {listed}{more}",
            file=tf.name,
            hint=f"select one per side with `where: [{example}]` on the source in kalibra.yml")


def _sources(obj: dict) -> tuple[dict, ...]:
    """Where a flat trace's fields are looked up, in the flat reader's order."""
    return tuple(s for s in (obj.get("attributes"), obj, obj.get("metadata")) if isinstance(s, dict))


def _value(sources: tuple[dict, ...], path: str) -> str:
    value = resolve_first(sources, path)
    return "(none)" if value is MISSING or value is None else text_form(value)


def _short(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= _VALUE_TEXT else text[:_VALUE_TEXT - 3] + "..."

"""Instrument definitions as frozen Python objects (built from the YAML files beside this module)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from lacrima.errors import DataError, Problem

RTL_LANGUAGES = frozenset({"he", "ar", "fa", "ur", "yi"})

_LANGUAGE = re.compile(r"^[a-z]{2}(-[A-Za-z]{2})?$")

ItemType = Literal["likert", "choice", "multi_choice", "numeric", "boolean", "text"]


def _freeze(d: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class Scale:
    """A response scale: allowed range, step and labels for anchor values."""

    min: float
    max: float
    step: float = 1.0
    labels: Mapping[int, Mapping[str, str]] = field(default_factory=dict)

    @property
    def midpoint(self) -> float:
        return (self.min + self.max) / 2.0

    def reverse(self, value: float) -> float:
        """Reverse-key a value on this scale (``min + max - value``)."""
        return self.min + self.max - value

    def values(self) -> list[float]:
        n = round((self.max - self.min) / self.step)
        return [self.min + i * self.step for i in range(n + 1)]


@dataclass(frozen=True)
class Option:
    code: int | str
    label: Mapping[str, str]


@dataclass(frozen=True)
class Item:
    """One item of an instrument; ``column`` is its column name in a respondent or session table."""

    number: int
    column: str
    type: ItemType
    scale: Scale | None
    reverse: bool = False
    required: bool = False
    text: Mapping[str, str] = field(default_factory=dict)
    options: tuple[Option, ...] = ()
    show_if: tuple[str, tuple[Any, ...]] | None = None
    topic: str | None = None

    @property
    def is_scored(self) -> bool:
        return self.type in ("likert", "numeric", "boolean") and self.scale is not None

    def text_in(self, language: str, fallback: str = "en") -> str | None:
        return self.text.get(language) or self.text.get(fallback)

    def allowed_codes(self) -> set[Any] | None:
        if self.options:
            return {o.code for o in self.options}
        return None


@dataclass(frozen=True)
class Subscale:
    name: str
    items: tuple[int, ...]
    method: Literal["mean", "sum"] = "mean"
    label: Mapping[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Band:
    min: float
    label: str


@dataclass(frozen=True)
class Norms:
    """Reference values for the reliable change index and clinically significant change."""

    reliability: float | None = None
    clinical_mean: float | None = None
    clinical_sd: float | None = None
    functional_mean: float | None = None
    functional_sd: float | None = None
    cutoff: float | None = None
    higher_is_better: bool = False
    source: str = ""


@dataclass(frozen=True)
class Instrument:
    """A questionnaire as data: items, response scale, keys, subscales and translations.

    Load one with :func:`lacrima.load_instrument`. Nothing here computes scores; see
    :func:`lacrima.score`.
    """

    id: str
    name: str
    version: str
    prefix: str
    source: str
    licence: str
    redistribute_text: bool
    languages: tuple[str, ...]
    scale: Scale
    items: tuple[Item, ...]
    subscales: Mapping[str, Subscale]
    kind: str = "survey"
    construct: str = ""
    description: str = ""
    licence_notes: str = ""
    scoring_source: str = ""
    title: Mapping[str, str] = field(default_factory=dict)
    instructions: Mapping[str, str] = field(default_factory=dict)
    missing_rule: Literal["prorate", "complete"] = "prorate"
    min_answered: float = 0.8
    bands: Mapping[str, tuple[Band, ...]] = field(default_factory=dict)
    norms: Mapping[str, Norms] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """Item column names in item order."""
        return [it.column for it in self.items]

    @property
    def reverse_columns(self) -> list[str]:
        """Columns of the reverse-keyed items, in item order."""
        return [it.column for it in self.items if it.reverse]

    def item(self, key: int | str) -> Item:
        """An item by number (``7``) or column name (``"ecr_07"``)."""
        for it in self.items:
            if it.number == key or it.column == key:
                return it
        raise KeyError(f"instrument {self.id!r} has no item {key!r}; its items are {self.columns}")

    def subscale_columns(self, name: str) -> list[str]:
        """Item columns of a subscale, in the order the subscale lists them."""
        if name not in self.subscales:
            raise KeyError(
                f"instrument {self.id!r} has no subscale {name!r}; its subscales are {list(self.subscales)}"
            )
        return [self.item(n).column for n in self.subscales[name].items]

    def has_text(self, language: str = "en") -> bool:
        """Whether every item has text in ``language`` (licensed instruments may ship none)."""
        return all(language in it.text for it in self.items)

    def missing_texts(self, language: str) -> list[Problem]:
        """Everything a form in ``language`` would need but lacks: item texts, option and scale labels.

        Title, instructions and subscale labels count only when the instrument gives them in some
        language. An empty list means the instrument can be rendered in ``language``.
        """
        problems: list[Problem] = []
        if self.title and language not in self.title:
            problems.append(Problem(f"the title has no {language!r} text"))
        if self.instructions and language not in self.instructions:
            problems.append(Problem(f"the instructions have no {language!r} text"))
        for it in self.items:
            if language not in it.text:
                problems.append(Problem(f"item {it.column} has no {language!r} text", column=it.column))
            for opt in it.options:
                if language not in opt.label:
                    problems.append(
                        Problem(
                            f"option {opt.code!r} of item {it.column} has no {language!r} label",
                            column=it.column,
                        )
                    )
        for value, label in self.scale.labels.items():
            if language not in label:
                problems.append(Problem(f"the label of answer {value} has no {language!r} text"))
        for it in self.items:
            if it.scale is None or it.scale is self.scale or it.type == "boolean":
                continue
            for value, label in it.scale.labels.items():
                if language not in label:
                    problems.append(
                        Problem(
                            f"the label of answer {value} of item {it.column} has no {language!r} text",
                            column=it.column,
                        )
                    )
        for name, sub in self.subscales.items():
            if sub.label and language not in sub.label:
                problems.append(Problem(f"the label of subscale {name!r} has no {language!r} text"))
        return problems

    def require_texts(self, language: str) -> None:
        """Raise :class:`~lacrima.errors.DataError` listing every text a form in ``language`` lacks.

        Call this before rendering a form. Licensed instruments ship without item text: attach yours
        with :meth:`with_texts` or ``load_instrument(..., texts=path)``.
        """
        problems = self.missing_texts(language)
        if problems:
            hint = (
                f"; the licence of {self.id!r} does not allow lacrima to ship item text, so attach the "
                "text of your licensed copy with Instrument.with_texts() or load_instrument(..., texts=path)"
                if not self.redistribute_text
                else f"; add the {language!r} translations to the instrument definition"
            )
            raise DataError(f"instrument {self.id!r} cannot be shown in {language!r}{hint}", problems)

    def item_text(self, key: int | str, language: str) -> str:
        """The text of one item in ``language``; a :class:`~lacrima.errors.DataError` when it has none.

        Unlike :meth:`Item.text_in` this never falls back to another language.
        """
        it = self.item(key)
        text = it.text.get(language)
        if text is None:
            have = sorted(it.text) or "none"
            raise DataError(
                f"item {it.column} of {self.id!r} has no {language!r} text (it has: {have}); "
                "attach the text with Instrument.with_texts() or choose another language"
            )
        return text

    def is_rtl(self, language: str) -> bool:
        """Whether ``language`` is written right to left (Hebrew, Arabic, ...)."""
        return language.split("-")[0] in RTL_LANGUAGES

    def band(self, subscale: str, value: float) -> str | None:
        """The severity band label of a subscale value, if the instrument defines bands."""
        bands = self.bands.get(subscale)
        if not bands or value != value:
            return None
        label = None
        for b in bands:
            if value >= b.min:
                label = b.label
        return label

    def with_texts(self, texts: Mapping[int | str, Mapping[str, str]]) -> Instrument:
        """A copy with item texts supplied by the user (e.g. from their licensed copy).

        ``texts`` maps an item number (``3`` or ``"3"``) or column (``"wai_03"``) to
        ``{language: text}``. Texts given here replace shipped texts in the same language. Raises
        :class:`~lacrima.errors.DataError` listing every key that names no item and every malformed
        text.
        """
        problems: list[Problem] = []
        by_number: dict[int, dict[str, str]] = {}
        for key, per_language in texts.items():
            it = self._find_item(key)
            if it is None:
                problems.append(
                    Problem(
                        f"texts name item {key!r}, which {self.id!r} does not have (items: {self.columns})"
                    )
                )
                continue
            if not isinstance(per_language, Mapping):
                problems.append(
                    Problem(f"the texts of item {it.column} are not a mapping of language to text")
                )
                continue
            for lang, text in per_language.items():
                if not isinstance(lang, str) or not _LANGUAGE.match(lang):
                    problems.append(
                        Problem(f"item {it.column}: {lang!r} is not a language code such as 'en'")
                    )
                elif not isinstance(text, str) or not text.strip():
                    problems.append(Problem(f"item {it.column}: the {lang!r} text is empty or not a string"))
                else:
                    by_number.setdefault(it.number, {})[lang] = text
        if problems:
            raise DataError(f"cannot attach texts to instrument {self.id!r}", problems)
        new_items = tuple(
            replace(it, text=_freeze({**it.text, **by_number.get(it.number, {})})) for it in self.items
        )
        added = (lang for t in by_number.values() for lang in t)
        langs = tuple(dict.fromkeys([*self.languages, *added]))
        return replace(self, items=new_items, languages=langs)

    def _find_item(self, key: object) -> Item | None:
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        for it in self.items:
            if (isinstance(key, int) and not isinstance(key, bool) and it.number == key) or it.column == key:
                return it
        return None

"""Instrument definitions as frozen Python objects (built from the YAML files beside this module)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

RTL_LANGUAGES = frozenset({"he", "ar", "fa", "ur", "yi"})

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
        return [it.column for it in self.items if it.reverse]

    def item(self, key: int | str) -> Item:
        """An item by number (``7``) or column name (``"ecr_07"``)."""
        for it in self.items:
            if it.number == key or it.column == key:
                return it
        raise KeyError(f"instrument {self.id!r} has no item {key!r}; its items are {self.columns}")

    def subscale_columns(self, name: str) -> list[str]:
        if name not in self.subscales:
            raise KeyError(
                f"instrument {self.id!r} has no subscale {name!r}; its subscales are {list(self.subscales)}"
            )
        return [self.item(n).column for n in self.subscales[name].items]

    def has_text(self, language: str = "en") -> bool:
        """Whether every item has text in ``language`` (licensed instruments may ship none)."""
        return all(language in it.text for it in self.items)

    def is_rtl(self, language: str) -> bool:
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

        ``texts`` maps an item number or column to ``{language: text}``.
        """
        from dataclasses import replace

        by_key: dict[Any, Mapping[str, str]] = dict(texts)
        new_items = []
        for it in self.items:
            extra = by_key.pop(it.number, None) or by_key.pop(it.column, None) or {}
            new_items.append(replace(it, text=_freeze({**it.text, **extra})))
        if by_key:
            raise KeyError(f"texts name items that {self.id!r} does not have: {sorted(map(str, by_key))}")
        langs = tuple(dict.fromkeys([*self.languages, *(lang for t in texts.values() for lang in t)]))
        return replace(self, items=tuple(new_items), languages=langs)

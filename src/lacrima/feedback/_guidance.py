"""Guidance as data: prompts keyed on attachment, the crying experience, attitudes to crying and gender.

A guidance file (YAML, validated against ``guidance_schema.json``) holds prompts; each says when it applies
(``when``: every condition must hold), what it suggests (``text`` per language, ``en`` required), what
it rests on (``citations``) and how strongly (``evidence``: ``tested`` where a study tested the response,
``correlational`` where the findings are associations, ``derived`` where no study tested it -- a derived
prompt must say "not tested" in its English text). Prompts support clinical judgement; they never decide.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from lacrima.errors import DataError, Problem
from lacrima.feedback._model import ClientProfile, Evaluation
from lacrima.feedback._rules import read_yaml, schema_problems

__all__ = [
    "DISCLAIMER",
    "GuidancePrompt",
    "GuidanceSet",
    "guidance_from_dict",
    "load_guidance",
    "select_guidance",
]

DISCLAIMER = MappingProxyType(
    {
        "en": "This prompt supports your clinical judgement; it does not decide what to do.",
        "it": "Questo suggerimento sostiene il tuo giudizio clinico; non decide che cosa fare.",
        "he": "הצעה זו תומכת בשיקול הדעת הקליני שלך; היא אינה מחליטה מה לעשות.",
    }
)
_SAYS_UNTESTED = re.compile(r"\bnot\s+(been\s+)?tested\b", re.IGNORECASE)
_RECENT_SESSIONS = 3
_MIN_SESSIONS_FOR_RATE = 4


@dataclass(frozen=True)
class GuidancePrompt:
    """One guidance prompt. ``title``/``text`` map languages to text (``en`` always present); ``when`` is
    the prompt's conditions as data, and, on a prompt returned by :func:`select_guidance`, ``matched`` says
    in words why it applies to this client."""

    id: str
    version: str
    title: Mapping[str, str]
    text: Mapping[str, str]
    when: Mapping[str, Any]
    citations: tuple[str, ...]
    evidence: str
    evidence_note: str
    needs_review: tuple[str, ...] = ()
    source: str = ""
    matched: tuple[str, ...] = ()

    @property
    def disclaimer(self) -> str:
        """The English disclaimer (see :meth:`disclaimer_in`)."""
        return DISCLAIMER["en"]

    def disclaimer_in(self, language: str) -> str:
        return DISCLAIMER.get(language, DISCLAIMER["en"])

    def title_in(self, language: str) -> str:
        """The title in ``language``, else English."""
        return self.title.get(language) or self.title["en"]

    def text_in(self, language: str) -> str:
        """The text in ``language``, else English."""
        return self.text.get(language) or self.text["en"]


@dataclass(frozen=True)
class GuidanceSet:
    """The prompts in force (shipped and a clinic's own files, minus the disabled ones), by id."""

    prompts: Mapping[str, GuidancePrompt]
    disabled: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    recent_sessions: int = _RECENT_SESSIONS
    min_sessions_for_rate: int = _MIN_SESSIONS_FOR_RATE

    def __iter__(self) -> Iterator[GuidancePrompt]:
        return iter(self.prompts.values())

    def __len__(self) -> int:
        return len(self.prompts)

    def __getitem__(self, prompt_id: str) -> GuidancePrompt:
        return self.prompts[prompt_id]

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self.prompts


@functools.cache
def _validator() -> Any:
    import jsonschema

    text = resources.files("lacrima.feedback").joinpath("guidance_schema.json").read_text(encoding="utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def _consistency(data: Mapping[str, Any]) -> list[Problem]:
    """What the schema cannot say: derived prompts say they were not tested; ranges run low to high."""
    out = []
    prompts = data.get("prompts")
    for pos, prompt in enumerate(prompts if isinstance(prompts, list) else []):
        if not isinstance(prompt, Mapping):
            continue
        pid = prompt.get("id", f"#{pos}")
        text = prompt.get("text")
        en = text.get("en") if isinstance(text, Mapping) else None
        if prompt.get("evidence") == "derived" and isinstance(en, str) and not _SAYS_UNTESTED.search(en):
            out.append(
                Problem(
                    f"prompts/{pos} ({pid}): a derived prompt must say in its English text that it was "
                    "not tested ('not tested' or 'has not been tested')"
                )
            )
        when = prompt.get("when")
        ranges = []
        if isinstance(when, Mapping):
            ranges = [(k, v) for k, v in when.items() if isinstance(v, Mapping) and k != "crying_attitudes"]
            attitudes = when.get("crying_attitudes")
            if isinstance(attitudes, Mapping):
                ranges += [
                    (f"crying_attitudes/{k}", v) for k, v in attitudes.items() if isinstance(v, Mapping)
                ]
        for name, r in ranges:
            lo, hi = r.get("min"), r.get("max")
            if isinstance(lo, int | float) and isinstance(hi, int | float) and lo > hi:
                out.append(Problem(f"prompts/{pos} ({pid}): when/{name} has min {lo} above max {hi}"))
    ids = [p.get("id") for p in (prompts if isinstance(prompts, list) else []) if isinstance(p, Mapping)]
    out += [
        Problem(f"prompt id {i!r} appears twice") for i in sorted({i for i in ids if ids.count(i) > 1 and i})
    ]
    return out


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def guidance_from_dict(data: Mapping[str, Any], origin: str = "<dict>") -> tuple[GuidancePrompt, ...]:
    """Validate one parsed guidance file and build its prompts.

    Raises :class:`~lacrima.errors.DataError` listing every problem: unknown keys (in the file, a prompt
    or its ``when``), a prompt without citations, a bad evidence level, a derived prompt that does not
    say it was not tested, duplicate ids.
    """
    if not isinstance(data, Mapping):
        raise DataError(f"guidance file {origin} is not a mapping of fields")
    problems = schema_problems(_validator(), data) + _consistency(data)
    if problems:
        raise DataError(f"guidance file {origin} has {len(problems)} problem(s)", problems)
    return tuple(
        GuidancePrompt(
            id=str(p["id"]),
            version=str(p["version"]),
            title=_freeze({k: " ".join(str(v).split()) for k, v in p["title"].items()}),
            text=_freeze({k: " ".join(str(v).split()) for k, v in p["text"].items()}),
            when=_freeze(p["when"]),
            citations=tuple(" ".join(str(c).split()) for c in p["citations"]),
            evidence=str(p["evidence"]),
            evidence_note=" ".join(str(p["evidence_note"]).split()),
            needs_review=tuple(p.get("needs_review", ())),
            source=f"{data['id']} {data['version']}",
        )
        for p in data["prompts"]
    )


def _guidance_dir() -> Path:
    return Path(str(resources.files("lacrima.feedback").joinpath("guidance")))


@functools.cache
def _shipped() -> tuple[tuple[GuidancePrompt, ...], tuple[str, ...]]:
    prompts: list[GuidancePrompt] = []
    files = []
    for path in sorted(_guidance_dir().glob("*.yaml")):
        prompts += guidance_from_dict(read_yaml(path, "guidance"), path.name)
        files.append(path.name)
    return tuple(prompts), tuple(files)


def load_guidance(extra: Iterable[str | Path] = (), disabled: Iterable[str] = ()) -> GuidanceSet:
    """The shipped guidance prompts plus a clinic's own files, minus the prompts it switched off.

    Parameters
    ----------
    extra : paths
        A clinic's own guidance files (same format as the shipped ones, see docs/feedback.md); their prompt
        ids must not clash with the shipped ones or each other.
    disabled : prompt ids
        Prompts to switch off (shipped or extra).

    Raises
    ------
    DataError
        Listing every problem in every file (unknown key, missing citation, bad evidence level, ...), clashing
        ids and disabled ids that no prompt has.

    Examples
    --------
    >>> from lacrima import feedback as fb
    >>> g = fb.load_guidance(disabled=["men-crying-gendered-expectations"])
    >>> "men-crying-gendered-expectations" in g, "avoidant-holding-back-tears" in g
    (False, True)
    """
    shipped, files = _shipped()
    prompts = list(shipped)
    file_names = list(files)
    problems: list[Problem] = []
    for path in extra:
        p = Path(path)
        try:
            prompts += guidance_from_dict(read_yaml(p, "guidance"), str(p))
            file_names.append(str(p))
        except DataError as exc:
            problems += [Problem(f"{p.name}: {q}") for q in exc.problems] or [Problem(str(exc))]
    by_id: dict[str, GuidancePrompt] = {}
    for prompt in prompts:
        if prompt.id in by_id:
            problems.append(
                Problem(f"prompt id {prompt.id!r} is in both {by_id[prompt.id].source} and {prompt.source}")
            )
        by_id.setdefault(prompt.id, prompt)
    off = tuple(str(d) for d in disabled)
    unknown = [d for d in off if d not in by_id]
    if unknown:
        problems.append(Problem(f"disabled names prompts that do not exist: {', '.join(unknown)}"))
    if problems:
        raise DataError(f"the guidance cannot be loaded: {len(problems)} problem(s)", problems)
    kept = {k: v for k, v in by_id.items() if k not in off}
    return GuidanceSet(MappingProxyType(kept), disabled=off, files=tuple(file_names))


def _in_range(value: float | None, r: Mapping[str, float]) -> bool:
    if value is None or value != value:
        return False
    return ("min" not in r or value >= r["min"]) and ("max" not in r or value <= r["max"])


def _range_text(r: Mapping[str, float]) -> str:
    if "min" in r and "max" in r:
        return f"{r['min']:g}-{r['max']:g}"
    return f">= {r['min']:g}" if "min" in r else f"<= {r['max']:g}"


def _facts(profile: ClientProfile, res: Evaluation | None, g: GuidanceSet) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if res is None:
        return facts
    scores = res.scores
    cried = scores["cried"].to_numpy(dtype=float) if len(scores) else np.array([])
    seen = cried[~np.isnan(cried)]
    facts["n_checkins"] = seen.size
    facts["cry_rate"] = float(seen.mean()) if seen.size >= g.min_sessions_for_rate else None
    facts["n_cried"] = int((seen == 1).sum())
    facts["cried_recently"] = bool((seen[-g.recent_sessions :] == 1).any()) if seen.size else False
    crying = scores[scores["cried"] == 1]
    pos = crying["positive_feelings"].dropna()
    neg = crying["negative_feelings"].dropna()
    facts["positive_after_crying"] = float(pos.mean()) if len(pos) else None
    facts["negative_after_crying"] = float(neg.mean()) if len(neg) else None
    facts["alerts"] = res.kinds()
    return facts


def _matches(
    prompt: GuidancePrompt, profile: ClientProfile, facts: Mapping[str, Any]
) -> tuple[str, ...] | None:
    """Why the prompt applies (one phrase per condition), or None when a condition fails or is unknown."""
    said: list[str] = []
    for key, cond in prompt.when.items():
        if key == "attachment_style":
            if profile.attachment_style not in cond:
                return None
            said.append(f"attachment style {profile.attachment_style}")
        elif key in ("attachment_anxiety", "attachment_avoidance"):
            value = getattr(profile, key)
            if not _in_range(value, cond):
                return None
            said.append(f"{key.replace('_', ' ')} {value:.2f} ({_range_text(cond)})")
        elif key == "crying_attitudes":
            for sub, r in cond.items():
                value = profile.attitude(sub)
                if not _in_range(value, r):
                    return None
                said.append(
                    f"crying as {sub} {value:.2f} ({_range_text(r)})"
                    if sub in ("healing", "weakness")
                    else f"{sub} attitude {value:.2f} ({_range_text(r)})"
                )
        elif key == "gender":
            if profile.gender not in cond:
                return None
            said.append(f"gender {profile.gender}")
        elif key == "cried_recently":
            if facts.get("cried_recently") is not cond or "n_checkins" not in facts:
                return None
            said.append("cried in a recent session" if cond else "no crying in recent sessions")
        elif key == "cry_rate":
            rate = facts.get("cry_rate")
            if not _in_range(rate, cond):
                return None
            said.append(f"cried in {facts['n_cried']} of {facts['n_checkins']} check-ins ({rate:.0%})")
        elif key in ("positive_after_crying", "negative_after_crying"):
            value = facts.get(key)
            if not _in_range(value, cond):
                return None
            feeling = "positive" if key.startswith("positive") else "negative"
            said.append(f"{feeling} feelings after crying {value:.1f} of 7 ({_range_text(cond)})")
        elif key == "alerts":
            hit = sorted(set(cond) & facts.get("alerts", set()))
            if not hit:
                return None
            said.append(f"alert: {', '.join(hit)}")
        else:  # pragma: no cover - the schema admits no other key
            raise DataError(f"prompt {prompt.id} has an unknown condition {key!r}")
    return tuple(said)


def select_guidance(
    guidance: GuidanceSet, profile: ClientProfile | None = None, res: Evaluation | None = None
) -> tuple[GuidancePrompt, ...]:
    """The prompts whose conditions all hold for this client (``matched`` says why), in file order.

    Conditions on something unknown (no attachment score, no check-ins yet) do not hold: a prompt is shown
    only on what is known.
    """
    if not isinstance(guidance, GuidanceSet):
        raise DataError(
            f"guidance must be a GuidanceSet from fb.load_guidance(), not {type(guidance).__name__}"
        )
    profile = profile if profile is not None else ClientProfile()
    facts = _facts(profile, res, guidance)
    out = []
    for prompt in guidance:
        why = _matches(prompt, profile, facts)
        if why is not None:
            out.append(GuidancePrompt(**{**prompt.__dict__, "matched": why}))
    return tuple(out)

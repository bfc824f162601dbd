"""Loading and validating the YAML knowledge base, with errors that name file, line and field."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .exceptions import KnowledgeError, KnowledgeErrors
from .models import CallbackTexts, Entry, Safety, Settings, SmallTalk, Thresholds
from .safety import Lexicon
from .text import normalize

TEST_FILE_PREFIX = "tests"
_TOP_KEYS = ("settings", "synonyms", "entries", "smalltalk", "risk")
_RISK_KEYS = tuple(f.name for f in dataclasses.fields(Lexicon))
_ENTRY_KEYS = ("id", "question", "answer", "phrasings", "topic", "related", "keywords", "source",
               "owner", "reviewed", "kind")
ENTRY_KINDS = ("answer", "gap")
_SMALLTALK_KEYS = ("id", "phrasings", "answer", "suggestions")
_SETTINGS_TEXTS = ("name", "greeting", "fallback", "clarify", "more", "version", "contact", "repeat",
                   "subject")
_SETTINGS_LISTS = ("suggestions", "fallbacks", "handoff", "acknowledgements")
_SETTINGS_KEYS = (*_SETTINGS_TEXTS, *_SETTINGS_LISTS, "thresholds", "safety", "review_max_age_days", "callback")
_THRESHOLD_KEYS = tuple(f.name for f in dataclasses.fields(Thresholds))
_SAFETY_KEYS = tuple(f.name for f in dataclasses.fields(Safety))
_CALLBACK_KEYS = tuple(f.name for f in dataclasses.fields(CallbackTexts))


def bundled_path() -> Path:
    """The default KB shipped inside the package (a copy of the repo's ``knowledge/``)."""
    inside = Path(__file__).parent / "knowledge"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent / "knowledge"


@dataclass(frozen=True)
class KnowledgeBase:
    """Everything the bot knows, validated; build one with :func:`load` or :meth:`from_entries`."""

    entries: tuple[Entry, ...]
    settings: Settings = field(default_factory=Settings)
    smalltalk: tuple[SmallTalk, ...] = ()
    synonyms: Mapping[tuple[str, ...], str] = field(default_factory=dict)
    path: str = ""
    version: str = ""
    risk: Lexicon = field(default_factory=Lexicon)  # the deployment's risk vocabulary (drugs, conditions, ...)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {e.id: e for e in self.entries})

    def entry(self, entry_id: str) -> Entry:
        """The entry with this id; ``KeyError`` if none."""
        by_id: dict[str, Entry] = self._by_id  # type: ignore[attr-defined]
        return by_id[entry_id]

    def has(self, entry_id: str) -> bool:
        return entry_id in self._by_id  # type: ignore[attr-defined]

    @classmethod
    def from_entries(cls, entries: Iterable[Entry | Mapping[str, Any]], *, settings: Settings | None = None,
                     synonyms: Mapping[str, Sequence[str]] | None = None,
                     risk: Lexicon | None = None) -> KnowledgeBase:
        """Build a KB from Python objects, without YAML files (apps and benchmarks feed their own data)."""
        built = tuple(e if isinstance(e, Entry) else _entry_from_mapping(e) for e in entries)
        seen: set[str] = set()
        for e in built:
            if e.id in seen:
                raise KnowledgeError(f"duplicate entry id '{e.id}'", field="id")
            seen.add(e.id)
        digest = hashlib.sha256("\n".join(f"{e.id}\t{'|'.join(e.texts)}" for e in built).encode()).hexdigest()
        return cls(entries=built, settings=settings or Settings(), synonyms=_synonym_table(synonyms or {}),
                   version=digest[:12], risk=risk or Lexicon())


def _entry_from_mapping(m: Mapping[str, Any]) -> Entry:
    def tup(key: str) -> tuple[str, ...]:
        return tuple(str(x) for x in m.get(key, ()) or ())
    return Entry(id=str(m["id"]), question=str(m.get("question") or (tup("phrasings") or (m["id"],))[0]),
                 answer=str(m.get("answer", "")), phrasings=tup("phrasings"), topic=str(m.get("topic", "")),
                 related=tup("related"), keywords=tup("keywords"), kind=str(m.get("kind", "answer")))


def _synonym_table(raw: Mapping[str, Sequence[str]]) -> dict[tuple[str, ...], str]:
    table: dict[tuple[str, ...], str] = {}
    for canon, variants in raw.items():
        target = normalize(str(canon))
        for v in variants:
            key = tuple(normalize(str(v)).split())
            if key and key != tuple(target.split()):
                table[key] = target
    return table


# --- YAML with line numbers -------------------------------------------------------------------------

class _Map(dict[str, Any]):
    lines: dict[str, int]
    line: int


class _List(list[Any]):
    lines: list[int]
    line: int


class _Loader(yaml.SafeLoader):
    """A safe loader whose mappings and lists remember the line of each key and item."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> _Map:  # type: ignore[override]
        out = _Map()
        out.lines, out.line = {}, node.start_mark.line + 1
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in out:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (each key may appear once per block)", key_node.start_mark)
            out[key] = self.construct_object(value_node, deep=True)
            out.lines[key] = key_node.start_mark.line + 1
        return out

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> _List:  # type: ignore[override]
        out = _List(self.construct_object(child, deep=True) for child in node.value)
        out.lines, out.line = [child.start_mark.line + 1 for child in node.value], node.start_mark.line + 1
        return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _Loader.construct_sequence)
# Dates stay strings: authors write `reviewed: 2026-11-25` and we parse it ourselves.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path) -> Any:
    """Parse one YAML file, turning syntax errors into a ``KnowledgeError`` at the right line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KnowledgeError(f"not UTF-8 text ({exc.reason}); save the file as UTF-8", file=str(path)) from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise KnowledgeError(f"invalid YAML: {exc.problem or exc.context}", file=str(path), line=line) from None
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"invalid YAML: {exc}", file=str(path)) from None


# --- validation ------------------------------------------------------------------------------------

class _Collector:
    def __init__(self) -> None:
        self.errors: list[KnowledgeError] = []

    def add(self, message: str, file: str, line: int | None, fld: str | None = None) -> None:
        self.errors.append(KnowledgeError(message, file=file, line=line, field=fld))


def _line(m: Any, key: str | int | None = None) -> int | None:
    if isinstance(m, _Map):
        return m.lines.get(key, m.line) if isinstance(key, str) else m.line
    if isinstance(m, _List):
        return m.lines[key] if isinstance(key, int) and key < len(m.lines) else m.line
    return None


def _check_keys(m: _Map, allowed: Sequence[str], what: str, file: str, errs: _Collector) -> None:
    for key in m:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
            errs.add(f"{what}: unknown key '{key}'{hint}", file, _line(m, key), str(key))


def _text(m: _Map, key: str, what: str, file: str, errs: _Collector, *, required: bool = False) -> str:
    value = m.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errs.add(f"{what}: missing '{key}' (add a non-empty '{key}:' line)", file, _line(m, key), key)
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        errs.add(f"{what}: '{key}' must be text, not a {type(value).__name__}", file, _line(m, key), key)
        return ""
    return str(value).strip()


def _texts(m: _Map, key: str, what: str, file: str, errs: _Collector) -> tuple[str, ...]:
    value = m.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = _List([value])
        value.lines, value.line = [_line(m, key) or 0], _line(m, key) or 0
    if not isinstance(value, list):
        errs.add(f"{what}: '{key}' must be a list of texts", file, _line(m, key), key)
        return ()
    out = []
    for i, item in enumerate(value):
        if item is None or (isinstance(item, str) and not item.strip()) or not isinstance(item, (str, int, float)):
            errs.add(f"{what}: empty or non-text item {i + 1} in '{key}' (remove it or write the text)",
                     file, _line(value, i), key)
            continue
        out.append(str(item).strip())
    return tuple(out)


def _settings(m: Any, file: str, errs: _Collector) -> Settings:
    if not isinstance(m, _Map):
        errs.add("'settings' must be a mapping of name: value", file, _line(m))
        return Settings()
    _check_keys(m, _SETTINGS_KEYS, "settings", file, errs)
    kwargs: dict[str, Any] = {}
    for key in _SETTINGS_TEXTS:
        if key in m:
            kwargs[key] = _text(m, key, "settings", file, errs, required=True)
    for key in _SETTINGS_LISTS:
        if key in m:
            kwargs[key] = _texts(m, key, "settings", file, errs)
    if "review_max_age_days" in m:
        value = m["review_max_age_days"]
        if not isinstance(value, int) or value <= 0:
            errs.add("settings: 'review_max_age_days' must be a positive whole number", file,
                     _line(m, "review_max_age_days"), "review_max_age_days")
        else:
            kwargs["review_max_age_days"] = value
    if m.get("callback") is False:
        kwargs["callback"] = None  # this KB's deployment takes no callback requests
    for key, cls, allowed in (("thresholds", Thresholds, _THRESHOLD_KEYS), ("safety", Safety, _SAFETY_KEYS),
                              ("callback", CallbackTexts, _CALLBACK_KEYS)):
        sub = m.get(key)
        if sub is None or sub is False and key == "callback":
            continue
        if not isinstance(sub, _Map):
            errs.add(f"settings: '{key}' must be a mapping", file, _line(m, key), key)
            continue
        _check_keys(sub, allowed, f"settings.{key}", file, errs)
        values: dict[str, Any] = {}
        for k in allowed:
            if k not in sub:
                continue
            v = sub[k]
            if cls is Thresholds:
                if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
                    errs.add(f"settings.thresholds: '{k}' must be a number between 0 and 1", file, _line(sub, k), k)
                    continue
                values[k] = float(v)
            else:
                values[k] = _text(sub, k, f"settings.{key}", file, errs, required=True)
        kwargs[key] = cls(**values)
    return Settings(**kwargs)


def _entry(m: Any, file: str, errs: _Collector) -> Entry | None:
    if not isinstance(m, _Map):
        errs.add("each entry must be a mapping (id:, question:, answer:, ...)", file, _line(m))
        return None
    what = f"entry '{m.get('id', '?')}'"
    _check_keys(m, _ENTRY_KEYS, what, file, errs)
    before = len(errs.errors)
    entry_id = _text(m, "id", what, file, errs, required=True)
    question = _text(m, "question", what, file, errs, required=True)
    answer = _text(m, "answer", what, file, errs, required=True)
    reviewed = _text(m, "reviewed", what, file, errs)
    kind = _text(m, "kind", what, file, errs) or "answer"
    if kind not in ENTRY_KINDS:
        errs.add(f"{what}: 'kind' must be one of {', '.join(ENTRY_KINDS)} (a gap is a topic answered only by "
                 "your team)", file, _line(m, "kind"), "kind")
    if reviewed:
        try:
            dt.date.fromisoformat(reviewed)
        except ValueError:
            errs.add(f"{what}: 'reviewed' must be a date like 2026-11-25", file, _line(m, "reviewed"), "reviewed")
    entry = Entry(id=entry_id, question=question, answer=answer,
                  phrasings=_texts(m, "phrasings", what, file, errs), topic=_text(m, "topic", what, file, errs),
                  related=_texts(m, "related", what, file, errs), keywords=_texts(m, "keywords", what, file, errs),
                  source=_text(m, "source", what, file, errs), owner=_text(m, "owner", what, file, errs),
                  reviewed=reviewed, file=file, line=m.line, kind=kind)
    return entry if len(errs.errors) == before else None


def _smalltalk(m: Any, file: str, errs: _Collector) -> SmallTalk | None:
    if not isinstance(m, _Map):
        errs.add("each smalltalk item must be a mapping (id:, phrasings:, answer:)", file, _line(m))
        return None
    what = f"smalltalk '{m.get('id', '?')}'"
    _check_keys(m, _SMALLTALK_KEYS, what, file, errs)
    before = len(errs.errors)
    item = SmallTalk(id=_text(m, "id", what, file, errs, required=True),
                     phrasings=_texts(m, "phrasings", what, file, errs),
                     answer=_text(m, "answer", what, file, errs, required=True),
                     suggestions=_texts(m, "suggestions", what, file, errs))
    if not item.phrasings:
        errs.add(f"{what}: needs at least one phrasing", file, _line(m, "phrasings"), "phrasings")
    return item if len(errs.errors) == before else None


def knowledge_files(path: Path) -> list[Path]:
    """The YAML files that make up a KB directory (answer test files excluded), in a stable order."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.glob("*.y*ml")
                  if p.suffix in (".yaml", ".yml") and not p.name.startswith(TEST_FILE_PREFIX))


def load(path: str | Path | None = None) -> KnowledgeBase:
    """Load and validate a KB directory (or one file); ``None`` means the bundled default KB."""
    root = Path(path) if path is not None else bundled_path()
    if not root.exists():
        raise KnowledgeError("no such knowledge directory or file; pass --knowledge DIR with your YAML files",
                             file=str(root))
    files = knowledge_files(root)
    if not files:
        raise KnowledgeError("no .yaml files found; a KB needs at least one file with 'entries:'", file=str(root))
    errs = _Collector()
    settings: Settings | None = None
    entries: list[Entry] = []
    smalltalk: list[SmallTalk] = []
    raw_synonyms: dict[str, list[str]] = {}
    risk: dict[str, tuple[str, ...]] = {}
    digest = hashlib.sha256()
    for file_path in files:
        digest.update(file_path.read_bytes())
        file = str(file_path)
        try:
            doc = read_yaml(file_path)
        except KnowledgeError as exc:
            errs.errors.append(exc)
            continue
        if doc is None:
            continue
        if not isinstance(doc, _Map):
            errs.add(f"top level must be a mapping with any of: {', '.join(_TOP_KEYS)}", file, 1)
            continue
        _check_keys(doc, _TOP_KEYS, "top level", file, errs)
        if "settings" in doc:
            if settings is not None:
                errs.add("'settings' appears in more than one file; keep one", file, _line(doc, "settings"))
            settings = _settings(doc["settings"], file, errs)
        for key, parse, bucket in (("entries", _entry, entries), ("smalltalk", _smalltalk, smalltalk)):
            if key not in doc:
                continue
            items = doc[key]
            if not isinstance(items, list):
                errs.add(f"'{key}' must be a list of items starting with '- id:'", file, _line(doc, key), key)
                continue
            for item in items:
                parsed = parse(item, file, errs)
                if parsed is not None:
                    bucket.append(parsed)  # type: ignore[arg-type]
        if "risk" in doc:
            section = doc["risk"]
            if not isinstance(section, _Map):
                errs.add("'risk' must map " + ", ".join(_RISK_KEYS) + " to lists of words", file, _line(doc, "risk"))
            else:
                _check_keys(section, _RISK_KEYS, "risk", file, errs)
                for key in _RISK_KEYS:
                    risk[key] = (*risk.get(key, ()), *_texts(section, key, "risk", file, errs))
        if "synonyms" in doc:
            syn = doc["synonyms"]
            if not isinstance(syn, _Map):
                errs.add("'synonyms' must map a term to a list of its variants", file, _line(doc, "synonyms"))
            else:
                for term in syn:
                    raw_synonyms.setdefault(str(term), []).extend(_texts(syn, term, f"synonyms '{term}'", file, errs))
    _cross_check(entries, smalltalk, errs)
    ids = {e.id for e in entries}
    for handoff in (settings.handoff if settings else ()):
        if handoff not in ids:
            close = difflib.get_close_matches(handoff, list(ids), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            errs.add(f"settings: 'handoff' names '{handoff}', which is no entry{hint}", "", None, "handoff")
    if not entries and not errs.errors:
        errs.add("no entries found; add an 'entries:' list to one of the files", str(root), None, "entries")
    if errs.errors:
        raise errs.errors[0] if len(errs.errors) == 1 else KnowledgeErrors(errs.errors)
    settings = settings or Settings()
    version = settings.version or digest.hexdigest()[:12]
    return KnowledgeBase(entries=tuple(entries), settings=settings, smalltalk=tuple(smalltalk),
                         synonyms=_synonym_table(raw_synonyms), path=str(root), version=version, risk=Lexicon(**risk))


def _cross_check(entries: list[Entry], smalltalk: list[SmallTalk], errs: _Collector) -> None:
    seen: dict[str, Entry] = {}
    for e in entries:
        if e.id in seen:
            first = seen[e.id]
            errs.add(f"duplicate entry id '{e.id}' (first defined at {first.file}:{first.line}); rename one",
                     e.file, e.line, "id")
        seen.setdefault(e.id, e)
    for e in entries:
        for rel in e.related:
            if rel not in seen:
                close = difflib.get_close_matches(rel, list(seen), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                errs.add(f"entry '{e.id}': 'related' names '{rel}', which is no entry{hint}", e.file, e.line, "related")
    ids = [s.id for s in smalltalk]
    for dup in {i for i in ids if ids.count(i) > 1}:
        errs.add(f"duplicate smalltalk id '{dup}'; rename one", "", None, "id")

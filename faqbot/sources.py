"""Reading an existing FAQ (spreadsheet, Markdown, saved HTML page) into question/answer pairs.

Parsers come from the ``[import]`` extra (openpyxl, markdown-it-py, beautifulsoup4) and are imported only when
a file of that kind is read, so ``import faqbot`` never needs them. Files only: nothing is fetched.
Answers come out in the KB's small markdown subset (paragraphs, ``**bold**``, ``- `` lists, ``[links](url)``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import ConfigError

FORMATS = ("csv", "tsv", "xlsx", "md", "html")
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".md": "md",
             ".markdown": "md", ".html": "html", ".htm": "html"}
_EXTRA = "install the import extra: pip install 'faqbot[import]'"


@dataclass(frozen=True)
class Pair:
    """One question and its answer as found in a source file, with where it was found."""

    question: str
    answer: str
    where: str
    phrasings: tuple[str, ...] = ()
    id: str = ""
    topic: str = ""
    keywords: tuple[str, ...] = ()
    related: tuple[str, ...] = ()  # ids of other entries, as the id column names them
    extra: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Columns:
    """Which spreadsheet columns hold what: a header name (any case) or a 1-based column number."""

    question: str = "question"
    answer: str = "answer"
    phrasings: str | None = "phrasings"  # one cell, variants split by ``separator``; missing column: none
    id: str | None = "id"
    topic: str | None = "topic"
    keywords: str | None = "keywords"  # split by ``separator`` like phrasings
    related: str | None = "related"  # ids of related entries, split by ``separator``
    separator: str = "|"


def detect(path: Path, given: str | None = None) -> str:
    """The format of ``path``: ``given`` if set, else from its suffix."""
    kind = given or _SUFFIXES.get(path.suffix.lower())
    if kind not in FORMATS:
        raise ConfigError(f"{path}: cannot tell the format from '{path.suffix}'; pass --format with one of "
                          f"{', '.join(FORMATS)}")
    return kind


def read(path: str | Path, *, format: str | None = None, columns: Columns | None = None,
         sheet: str | None = None, level: int | None = None) -> list[Pair]:
    """Every question/answer pair in the file at ``path``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no such file: {p}; give the path of a saved CSV, XLSX, Markdown or HTML file")
    kind = detect(p, format)
    if kind in ("csv", "tsv"):
        return read_table(_csv_rows(p, kind), columns or Columns(), name=str(p))
    if kind == "xlsx":
        return read_table(_xlsx_rows(p, sheet), columns or Columns(), name=str(p))
    if kind == "md":
        return read_markdown(p.read_text(encoding="utf-8"), name=str(p), level=level)
    return read_html(p.read_text(encoding="utf-8", errors="replace"), name=str(p), level=level)


# --- spreadsheets --------------------------------------------------------------------------------------


def _csv_rows(path: Path, kind: str) -> list[list[str]]:
    text = path.read_text(encoding="utf-8-sig")
    delimiter = "\t"
    if kind != "tsv":
        try:  # only the delimiter is sniffed; quoting stays as spreadsheets write it
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","
    # Quoted cells keep their line breaks (paragraphs, lists) only when read as one stream.
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _xlsx_rows(path: Path, sheet: str | None) -> list[list[str]]:
    try:
        import openpyxl
    except ImportError:
        raise ConfigError(f"reading {path} needs openpyxl; {_EXTRA}") from None
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise ConfigError(f"{path} has no sheet '{sheet}'; its sheets: {', '.join(book.sheetnames)}")
        ws = book[sheet] if sheet else book.worksheets[0]
        return [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        book.close()


def _column(header: Sequence[str], wanted: str | None, *, name: str, flag: str, required: bool) -> int | None:
    if wanted is None:
        return None
    if wanted.isdigit():
        index = int(wanted) - 1
        if not 0 <= index < len(header):
            raise ConfigError(f"{name}: {flag} {wanted}: the sheet has {len(header)} columns")
        return index
    folded = [h.strip().lower() for h in header]
    if wanted.strip().lower() in folded:
        return folded.index(wanted.strip().lower())
    if required:
        raise ConfigError(f"{name}: no column '{wanted}' (columns: {', '.join(h for h in header if h) or 'none'}); "
                          f"pass {flag} with a header name or a column number")
    return None


def read_table(rows: Sequence[Sequence[str]], columns: Columns, *, name: str) -> list[Pair]:
    """Pairs from spreadsheet rows, the first row being the header; rows without a question are skipped."""
    rows = [r for r in rows if any(str(c).strip() for c in r)]
    if not rows:
        raise ConfigError(f"{name} is empty; it needs a header row and one row per question")
    header = [str(c) for c in rows[0]]
    q = _column(header, columns.question, name=name, flag="--question", required=True)
    a = _column(header, columns.answer, name=name, flag="--answer", required=True)
    ph = _column(header, columns.phrasings, name=name, flag="--phrasings", required=columns.phrasings != "phrasings")
    ident = _column(header, columns.id, name=name, flag="--id-column", required=columns.id != "id")
    topic = _column(header, columns.topic, name=name, flag="--topic", required=columns.topic != "topic")
    keywords = _column(header, columns.keywords, name=name, flag="--keywords",
                       required=columns.keywords != "keywords")
    related = _column(header, columns.related, name=name, flag="--related", required=columns.related != "related")

    def cell(row: Sequence[str], i: int | None) -> str:
        return str(row[i]).strip() if i is not None and i < len(row) else ""

    def split(row: Sequence[str], i: int | None) -> tuple[str, ...]:
        return tuple(v.strip() for v in cell(row, i).split(columns.separator) if v.strip())

    out = []
    for n, row in enumerate(rows[1:], start=2):
        question, answer = cell(row, q), cell(row, a)
        if not question:
            continue
        out.append(Pair(question=" ".join(question.split()), answer=answer, where=f"{name}:{n}",
                        phrasings=split(row, ph), id=cell(row, ident), topic=cell(row, topic),
                        keywords=split(row, keywords), related=split(row, related)))
    return out


# --- Markdown ------------------------------------------------------------------------------------------


def read_markdown(text: str, *, name: str = "<markdown>", level: int | None = None) -> list[Pair]:
    """Each heading (of ``level``, else the deepest level that has any) is a question; what follows is its answer."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        raise ConfigError(f"reading {name} needs markdown-it-py; {_EXTRA}") from None
    tokens = MarkdownIt("commonmark").parse(text)
    levels = sorted({int(t.tag[1]) for t in tokens if t.type == "heading_open"})
    if not levels:
        raise ConfigError(f"{name} has no headings; write each question as a heading ('## How does it work?')")
    want = level or _question_level(levels, [int(t.tag[1]) for t in tokens if t.type == "heading_open"])
    lines = text.splitlines()
    out: list[Pair] = []
    current: tuple[str, int] | None = None
    body: list[str] = []
    for i, t in enumerate(tokens):
        if t.type != "heading_open":
            continue
        depth = int(t.tag[1])
        if depth > want:
            continue
        if current is not None:
            out.append(_md_pair(current, body, name))
        start, end = t.map or (0, 0)
        title = tokens[i + 1].content.strip()
        current = (title, start + 1) if depth == want else None
        next_start = _next_heading_line(tokens, i, want)
        body = lines[end:next_start]
    if current is not None:
        out.append(_md_pair(current, body, name))
    return [p for p in out if p.answer]


def _question_level(levels: list[int], seen: list[int]) -> int:
    # A page title (one lone top heading above the rest) is not a question: take the next level down.
    if len(levels) > 1 and seen.count(levels[0]) == 1:
        return levels[1]
    return levels[0]


def _next_heading_line(tokens: Sequence[Any], i: int, want: int) -> int | None:
    for t in tokens[i + 1:]:
        if t.type == "heading_open" and int(t.tag[1]) <= want and t.map:
            return int(t.map[0])
    return None


def _md_pair(current: tuple[str, int], body: list[str], name: str) -> Pair:
    title, line = current
    answer = "\n".join(body).strip()
    answer = re.sub(r"^\s*[*+]\s+", "- ", answer, flags=re.MULTILINE)  # one list marker, as the KB writes them
    answer = re.sub(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", r"**\1**", answer, flags=re.MULTILINE)  # sub-headings, bold
    answer = re.sub(r"\n{3,}", "\n\n", answer)
    return Pair(question=" ".join(title.split()), answer=answer, where=f"{name}:{line}")


# --- HTML ----------------------------------------------------------------------------------------------

_HEADING = re.compile(r"^h[1-6]$")
_BLOCKS = ("p", "ul", "ol", "div", "section", "blockquote", "table", "pre", "dl")


def read_html(text: str, *, name: str = "<html>", level: int | None = None) -> list[Pair]:
    """Questions from ``<details><summary>``, ``<dl><dt>``, else headings (``level``, else the deepest used)."""
    try:
        from bs4 import BeautifulSoup, Tag
    except ImportError:
        raise ConfigError(f"reading {name} needs beautifulsoup4; {_EXTRA}") from None
    soup = BeautifulSoup(text, "html.parser")
    for junk in soup(["script", "style", "nav", "header", "footer", "noscript", "template", "form"]):
        junk.decompose()
    out: list[Pair] = []
    for details in soup.find_all("details"):
        summary = details.find("summary")
        if not isinstance(summary, Tag):
            continue
        question = _inline(summary).strip()
        summary.extract()
        out.append(Pair(question=question, answer=_blocks(details.children), where=f"{name}:{_line(details)}"))
        details.decompose()
    for dl in soup.find_all("dl"):
        for dt in dl.find_all("dt"):
            parts = []
            for sib in dt.find_next_siblings():
                if sib.name == "dt":
                    break
                if sib.name == "dd":
                    parts.append(_blocks(sib.children))
            out.append(Pair(question=_inline(dt).strip(), answer="\n\n".join(p for p in parts if p),
                            where=f"{name}:{_line(dt)}"))
        dl.decompose()
    heads = list(soup.find_all(_HEADING))
    if heads:
        levels = sorted({int(h.name[1]) for h in heads})
        want = level or _question_level(levels, [int(h.name[1]) for h in heads])
        for h in heads:
            if int(h.name[1]) != want:
                continue
            body: list[Tag] = []
            taken: set[int] = set()
            for sib in h.find_all_next(True):
                if _HEADING.fullmatch(sib.name):
                    if int(sib.name[1]) <= want:
                        break
                    if not any(id(p) in taken for p in sib.parents):
                        body.append(sib)  # a sub-heading inside the answer: kept as a bold line
                        taken.add(id(sib))
                    continue
                # The outermost block after the heading carries its nested blocks with it.
                if sib.name in _BLOCKS and not sib.find(_HEADING) and not any(id(p) in taken for p in sib.parents):
                    body.append(sib)
                    taken.add(id(sib))
            out.append(Pair(question=_inline(h).strip(), answer=_blocks(body), where=f"{name}:{_line(h)}"))
    out = [Pair(question=" ".join(p.question.split()), answer=p.answer, where=p.where) for p in out]
    return [p for p in out if p.question and p.answer]


def _line(tag: Any) -> int:
    return int(getattr(tag, "sourceline", 0) or 0)


def _inline(node: Any) -> str:
    """Text of an inline run, with ``**bold**`` and ``[links](url)`` kept."""
    from bs4.element import NavigableString, Tag

    if isinstance(node, NavigableString):
        return re.sub(r"\s+", " ", str(node))
    if not isinstance(node, Tag):
        return ""
    inner = "".join(_inline(c) for c in node.children)
    if node.name in ("strong", "b") and inner.strip():
        return f"**{inner.strip()}**"
    href = node.get("href")
    if node.name == "a" and isinstance(href, str) and href.startswith(("http://", "https://", "mailto:", "tel:")):
        return f"[{inner.strip()}]({href})"
    if node.name == "br":
        return "\n"
    return inner


def _blocks(nodes: Iterable[Any]) -> str:
    """Block elements as markdown paragraphs and ``- `` lists."""
    from bs4.element import NavigableString, Tag

    parts: list[str] = []
    inline: list[str] = []

    def flush() -> None:
        text = " ".join("".join(inline).split())
        if text:
            parts.append(text)
        inline.clear()

    for node in nodes:
        if isinstance(node, NavigableString):
            inline.append(str(node))
        elif isinstance(node, Tag) and node.name in ("ul", "ol"):
            flush()
            items = [" ".join(_inline(li).split()) for li in node.find_all("li", recursive=False)]
            parts.append("\n".join(f"- {i}" for i in items if i))
        elif isinstance(node, Tag) and _HEADING.fullmatch(node.name):
            flush()
            title = " ".join(_inline(node).split())
            if title:
                parts.append(f"**{title}**")
        elif isinstance(node, Tag) and node.name in ("p", "blockquote", "pre"):
            flush()
            text = "\n".join(" ".join(line.split()) for line in _inline(node).split("\n")).strip()
            if text:
                parts.append(text)
        elif isinstance(node, Tag) and node.name in ("div", "section", "dd", "details"):
            flush()
            inner = _blocks(node.children)
            if inner:
                parts.append(inner)
        elif isinstance(node, Tag):
            inline.append(_inline(node))
    flush()
    return "\n\n".join(p for p in parts if p)


def pairs_iter(paths: Iterable[Path], **options: Any) -> Iterator[Pair]:
    for p in paths:
        yield from read(p, **options)

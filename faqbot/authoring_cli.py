"""The authoring commands, ``faqbot import`` and ``faqbot accept``: flags and printing only.

They live apart from faqbot/cli.py so that file keeps to the answering commands; ``cli.build_parser`` adds them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from .config import Config


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``import`` and ``accept`` on the ``faqbot`` sub-command parser."""
    p = sub.add_parser("import", help="turn an existing FAQ (CSV/XLSX, Markdown, saved HTML page) into a KB file",
                       description="Read questions and answers from files on disk (never the network), write them "
                                   "as KB YAML into --out, then lint and list near-duplicates.")
    p.add_argument("sources", nargs="+", metavar="FILE", help=".csv .tsv .xlsx .md .html files")
    p.add_argument("--out", "-o", metavar="DIR", required=True, help="KB directory to write into (created if "
                                                                     "missing; entries already there are compared)")
    p.add_argument("--file", default=None, help="name of the file written in --out (default imported.yaml)")
    p.add_argument("--force", action="store_true", help="replace that file if it exists")
    p.add_argument("--format", dest="source_format", default=None, choices=("csv", "tsv", "xlsx", "md", "html"),
                   help="source format (default: from each file's suffix)")
    p.add_argument("--question", default="question", metavar="COL", help="column with the question: header name "
                                                                         "or 1-based number (default 'question')")
    p.add_argument("--answer", default="answer", metavar="COL", help="column with the answer (default 'answer')")
    p.add_argument("--phrasings", default="phrasings", metavar="COL",
                   help="column with other ways to ask, split by --separator (default 'phrasings', if present)")
    p.add_argument("--id-column", default="id", metavar="COL", help="column with entry ids (default 'id', if "
                                                                    "present; otherwise ids are slugged questions)")
    p.add_argument("--topic", default="topic", metavar="COL", help="column with a topic (default 'topic', if present)")
    p.add_argument("--keywords", default="keywords", metavar="COL", help="column with keywords, split by --separator "
                                                                         "(default 'keywords', if present)")
    p.add_argument("--related", default="related", metavar="COL", help="column with ids of related entries, split by "
                                                                       "--separator (default 'related', if present)")
    p.add_argument("--separator", default="|", help="separator between phrasings in one cell (default '|')")
    p.add_argument("--sheet", default=None, help="XLSX sheet name (default: the first sheet)")
    p.add_argument("--level", type=int, default=None, help="heading level of the questions in Markdown/HTML "
                                                          "(default: the level under a lone page title)")
    p.add_argument("--owner", default="imported", help="'owner' written on each entry (default 'imported')")
    p.add_argument("--encoder", default=None, help="sentence encoder for the checks ('off' for lexical only)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("accept", parents=[common],
                       help="add phrasings from the conversation log to the KB files (ids from report --suggest)",
                       description="Write accepted suggestions into the YAML files (comments and layout kept), "
                                   "then lint and run the answer suite; a change that breaks a passing case is "
                                   "rolled back.")
    p.add_argument("ids", nargs="*", help="suggestion ids to accept; none: go through them one by one")
    p.add_argument("--log-db", "--db", dest="log_db", default=None,
                   help="the conversation log, a SQLite file or postgresql:// URL (default: "
                        "$FAQBOT_LOG_DB or faqbot-log.sqlite3)")
    p.add_argument("--days", type=int, default=None, help="only the last N days (default: the whole log)")
    p.add_argument("--to", default=None, metavar="ENTRY", help="add the phrasings to this entry instead of the "
                                                               "one proposed (one id only)")
    p.add_argument("--new", default=None, metavar="ENTRY", help="make a new entry with this id from the suggestion "
                   "(one id only); without --answer it is a declared gap that hands the question to your team")
    p.add_argument("--question", default=None, help="with --new: the entry's question (default: the commonest wording)")
    p.add_argument("--answer", default=None, help="with --new: the entry's answer")
    p.add_argument("--tests", default=None, metavar="FILE", help="answer suite to guard with (default: the KB's "
                                                                 "tests.yaml)")
    p.add_argument("--yes", "-y", action="store_true", help="without ids: accept every proposal for an existing "
                                                            "entry without asking")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.set_defaults(func=cmd_accept)


def cmd_import(args: argparse.Namespace, out: TextIO) -> int:
    from . import importer, sources
    from .bot import Bot
    from .lint import lint

    columns = sources.Columns(question=args.question, answer=args.answer, phrasings=args.phrasings,
                              id=args.id_column, topic=args.topic, keywords=args.keywords,
                              related=args.related, separator=args.separator)
    pairs = []
    for src in args.sources:
        pairs += sources.read(src, format=args.source_format, columns=columns, sheet=args.sheet, level=args.level)
    directory = Path(args.out)
    before = importer.existing_ids(directory)
    entries, skipped = importer.to_entries(pairs, owner=args.owner, taken=before)
    path = importer.write(entries, directory, sources=[Path(s).name for s in args.sources],
                          file=args.file or importer.DEFAULT_FILE, force=args.force)
    config = Config.from_env(knowledge=str(directory), encoder=args.encoder)
    bot = Bot.load(directory, encoder=config.encoder)
    ids = [e["id"] for e in entries]
    dups = importer.near_duplicates(bot, ids, before=before)
    findings = [str(f) for f in lint(bot)]
    if args.json:
        out.write(json.dumps({"file": str(path), "entries": ids, "skipped": skipped,
                              "duplicates": [vars(d) for d in dups], "lint": findings}, ensure_ascii=False) + "\n")
        return 0
    out.write(f"wrote {len(ids)} entries to {path} from {len(pairs)} questions found\n")
    for s in skipped:
        out.write(f"skipped: {s}\n")
    if dups:
        out.write(f"\n{len(dups)} near-duplicate(s): merge them, or word the questions apart\n")
        for d in dups:
            out.write(f"  {d}\n")
    thin = sum("phrasings; write at least" in f for f in findings)
    # Near-duplicates are listed above, with whether they clash with an imported or an existing entry.
    other = [f for f in findings if "phrasings; write at least" not in f and "near-duplicate of" not in f]
    out.write(f"\nlint: {len(findings)} warning(s)" + (f", {thin} of them entries with too few phrasings "
                                                       "(add how visitors really ask)" if thin else "") + "\n")
    for f in other:
        out.write(f"  warning: {f}\n")
    out.write(f"\nnext: faqbot chat -k {directory}   then   faqbot serve -k {directory}\n")
    return 0


def cmd_accept(args: argparse.Namespace, out: TextIO) -> int:
    from . import accept

    config = Config.from_env(knowledge=args.knowledge, encoder=args.encoder, log_db=args.log_db)
    session = accept.Session.open(config.knowledge, log_db=config.log_db, encoder=config.encoder, days=args.days,
                                  tests=args.tests)
    proposals = session.proposals()
    if args.new or args.to:
        if len(args.ids) != 1:
            out.write("--new and --to take exactly one suggestion id\n")
            return 2
    if args.new:
        outcome = session.create(session.find(args.ids[0], proposals), args.new, question=args.question,
                                 answer=args.answer)
        out.write((json.dumps(outcome.to_dict(), ensure_ascii=False) if args.json else outcome.summary()) + "\n")
        return 0 if outcome.kept else 1
    if args.ids:
        chosen = [(session.find(i, proposals), args.to) for i in args.ids]
    elif args.yes:
        chosen = [(p, None) for p in proposals if p.target]
    elif not sys.stdin.isatty():
        out.write("not a terminal: name the suggestion ids to accept (from `faqbot report --suggest`), or pass "
                  "--yes to accept every suggestion that has an entry\n")
        return 2
    else:
        chosen, created = _ask_each(proposals, out)
        code = 0
        for p, ident, question in created:
            session = accept.Session.open(config.knowledge, log_db=config.log_db, encoder=config.encoder,
                                          days=args.days, tests=args.tests)  # the KB as it is now
            made = session.create(p, ident, question=question)
            out.write(made.summary() + "\n")
            code = code or (0 if made.kept else 1)
        if chosen:
            session = accept.Session.open(config.knowledge, log_db=config.log_db, encoder=config.encoder,
                                          days=args.days, tests=args.tests)  # the KB as it is now
            outcome = session.apply(chosen)
            out.write(outcome.summary() + "\n")
            code = code or (0 if outcome.kept else 1)
        elif not created:
            out.write("nothing accepted\n")
        return code
    if not chosen:
        out.write("nothing accepted\n")
        return 0
    outcome = session.apply(chosen)
    if args.json:
        out.write(json.dumps(outcome.to_dict(), ensure_ascii=False) + "\n")
    else:
        out.write(outcome.summary() + "\n")
    return 0 if outcome.kept else 1


def _ask(out: TextIO, prompt: str) -> str:
    out.write(prompt)
    out.flush()
    return sys.stdin.readline().strip()


def _ask_each(proposals: list[Any], out: TextIO) -> tuple[list[tuple[Any, str | None]],
                                                          list[tuple[Any, str, str | None]]]:
    """Go through the proposals in a terminal: which to accept, where to, and which become new entries."""
    chosen: list[tuple[Any, str | None]] = []
    created: list[tuple[Any, str, str | None]] = []
    for p in proposals:
        out.write("\n" + p.describe() + "\n")
        if p.target:
            answer = _ask(out, "accept? [y]es / [n]o / [o]ther entry id / [q]uit: ").lower()
        else:
            answer = _ask(out, "no entry fits: [o]ther entry id / n[e]w entry / [n]o / [q]uit: ").lower()
        if answer in ("q", "quit"):
            break
        if answer in ("y", "yes") and p.target:
            chosen.append((p, None))
        elif answer in ("o", "other"):
            target = _ask(out, "entry id: ")
            if target:
                chosen.append((p, target))
        elif answer in ("e", "new") and not p.target:
            ident = _ask(out, "new entry id: ")
            question = _ask(out, f"its question [{p.phrasings[0]}]: ")
            if ident:
                created.append((p, ident, question or None))
    return chosen, created


def print_suggestions(bot: Any, db: Path, *, days: int | None, as_json: bool, out: TextIO) -> int:
    """``faqbot report --suggest``: proposals grouped by meaning (JSON, or comments above the YAML snippet)."""
    from . import suggest

    found = suggest.proposals(db, bot, days=days, encode=bot.engine.encode)
    if as_json:
        out.write(json.dumps([p.to_dict() for p in found], ensure_ascii=False, indent=2) + "\n")
        return 0
    listing = suggest.proposals_text(found, source=db)
    out.write("".join(f"# {line}\n" if line else "#\n" for line in listing.splitlines()))
    out.write(suggest.suggest(db, bot, days))
    return 0


def print_dashboard(bot: Any, db: Path, *, days: int | None, out: TextIO) -> int:
    """``faqbot report --format html``: the at-a-glance page with rates, votes and suggestions."""
    from . import dashboard

    out.write(dashboard.from_log(db, bot, days=days))
    return 0

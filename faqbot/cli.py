"""The ``faqbot`` command: argument parsing and printing only; the work happens in the core."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from .authoring_cli import add_commands as add_authoring_commands
from .authoring_cli import print_dashboard, print_suggestions
from .bot import Bot
from .callback import CallbackRequest
from .callback_store import CallbackStore
from .callbacks_cli import add_commands as add_callback_commands
from .config import Config
from .exceptions import FaqbotError
from .knowledge import bundled_path
from .logstore import describe
from .models import Reply, ReplyType
from .notify import Notifier, notify_settings


def _config(args: argparse.Namespace) -> Config:
    """Flags over ``FAQBOT_*`` variables over defaults: the one place the CLI reads settings."""
    return Config.from_env(knowledge=args.knowledge, encoder=args.encoder,
                           log_db=getattr(args, "log_db", None))


def _bot(args: argparse.Namespace) -> Bot:
    config = _config(args)
    return Bot.load(config.knowledge, encoder=config.encoder)


def format_reply(reply: Reply) -> str:
    """A reply as a person reads it in a terminal."""
    lines = [reply.text]
    for i, option in enumerate(reply.options, 1):
        lines.append(f"  {i}. {option.text}")
    if reply.suggestions:
        lines.append("Related: " + " | ".join(reply.suggestions))
    tag = reply.type.value + (f" · {' + '.join(reply.parts or (reply.entry,))}" if reply.entry else "")
    if reply.type in (ReplyType.ANSWER, ReplyType.CLARIFY):
        tag += f" · confidence {reply.confidence:.2f}"
    lines.append(f"[{tag}]")
    return "\n".join(lines)


def _explain(bot: Bot, text: str) -> list[dict[str, object]]:
    return [c.to_dict() for c in bot.explain(text)]


def cmd_ask(args: argparse.Namespace, out: TextIO) -> int:
    bot = _bot(args)
    questions: Sequence[str] = [line.rstrip("\n") for line in sys.stdin] if args.text == "-" else [args.text]
    for q in questions:
        if args.text == "-" and not q.strip():
            continue
        reply = bot.ask(q)
        if args.json:
            data: dict[str, object] = reply.to_dict()
            if args.explain:
                data = {**data, "explain": _explain(bot, q)}
            out.write(json.dumps(data, ensure_ascii=False) + "\n")
        else:
            out.write(format_reply(reply) + "\n")
            if args.explain:
                for c in bot.explain(q):
                    parts = ", ".join(f"{k} {v:.2f}" for k, v in c.why.parts)
                    meaning = f" meaning={c.why.meaning!r} ({c.why.similarity:.2f})" if c.why.meaning else ""
                    out.write(f"  {c.confidence:.2f} {c.entry.id:<28} terms={','.join(c.why.terms) or '-'} "
                              f"phrasing={c.why.phrasing!r}{meaning} ({parts})\n")
        out.flush()
    return 0


def cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
    config = _config(args)
    bot = Bot.load(config.knowledge, encoder=config.encoder)
    bot.region = config.callback_region
    if not config.callbacks:
        bot.callbacks = None
    conv = bot.conversation()
    keep = _CallbackKeeper(config)
    interactive = not args.json and sys.stdin.isatty()
    if not args.json:
        welcome = bot.welcome()
        out.write(f"{welcome['name']}: {welcome['greeting']}\n")
        if welcome["suggestions"]:
            out.write("Try: " + " | ".join(welcome["suggestions"]) + "\n")
    while True:
        if interactive:
            out.write("you> ")
            out.flush()
        line = sys.stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if interactive and text in ("/quit", "/exit"):
            break
        reply = conv.ask(text)
        if conv.submitted is not None and not keep(conv.submitted) and bot.callbacks is not None:
            reply = Reply(ReplyType.CALLBACK, bot.callbacks.failed, confidence=1.0)
        out.write((reply.to_json() if args.json else format_reply(reply)) + "\n")
        out.flush()
    keep.close()
    return 0


class _CallbackKeeper:
    """Stores a request completed in ``faqbot chat`` and notifies the team as configured, like the server."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: CallbackStore | None = None
        self.notifier: Notifier | None = None

    def __call__(self, request: CallbackRequest) -> bool:
        try:
            if self.store is None:
                self.store = CallbackStore(self.config.callbacks_db,
                                           retention_days=self.config.callback_retention_days)
                settings = notify_settings(self.config)
                self.notifier = Notifier(settings, store=self.store) if settings.enabled else None
            self.store.add(replace(request, channel="cli"))
        except (OSError, sqlite3.Error, FaqbotError) as exc:
            sys.stderr.write(f"faqbot: the callback request could not be stored ({exc}); check "
                             f"FAQBOT_CALLBACKS_DB={describe(self.config.callbacks_db)}\n")
            return False
        if self.notifier is not None:
            self.notifier.submit(replace(request, channel="cli"))
        return True

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.close()  # waits for the notifications queued in this chat
        if self.store is not None:
            self.store.close()


def cmd_test(args: argparse.Namespace, out: TextIO) -> int:
    from .suite import check_expectations, load_suite, run_suite

    bot = _bot(args)
    path = Path(args.file) if args.file else Path(bot.kb.path or bundled_path()) / "tests.yaml"
    cases, conversations = load_suite(path)
    problems = check_expectations(bot, [*cases, *(t for conv in conversations for t in conv)])
    if problems:
        out.write("\n".join(f"{path}:{p}" for p in problems) + "\n")
        return 2
    report = run_suite(bot, cases, conversations)
    shown = report.outcomes if args.verbose else report.failures
    if shown:
        out.write(f"{'':4} {'question':<52} {'expected':<26} got\n")
        for o in shown:
            mark = "ok" if o.passed else "FAIL"
            q = (f"[{o.case.conversation}] " if o.case.conversation else "") + o.case.question
            out.write(f"{mark:<4} {q[:52]:<52} {o.case.expect:<26} {o.got} ({o.reply.confidence:.2f})\n")
    total, failed = len(report.outcomes), len(report.failures)
    out.write(f"\n{total - failed}/{total} passed ({report.accuracy:.1%}) from {path}\n")
    if failed:
        out.write("Failing expectations (expected -> got, count):\n")
        for (expected, got), n in report.stolen_by().most_common():
            out.write(f"  {expected} -> {got}: {n}\n")
    if args.min_accuracy is not None:
        # A visitor-style suite measures a share; it passes at a floor rather than at every case.
        verdict = "met" if report.accuracy >= args.min_accuracy else "NOT met"
        out.write(f"accuracy {report.accuracy:.1%}: floor {args.min_accuracy:.0%} {verdict}\n")
        return 0 if report.accuracy >= args.min_accuracy else 1
    out.write(f"{total - failed} passed, {failed} failed\n")
    return 1 if failed else 0


def cmd_lint(args: argparse.Namespace, out: TextIO) -> int:
    from .lint import lint

    bot = _bot(args)
    findings = lint(bot)
    for f in findings:
        out.write(f"warning: {f}\n")
    kb = bot.kb
    out.write(f"{len(kb.entries)} entries, {sum(len(e.phrasings) for e in kb.entries)} phrasings, "
              f"{len(kb.smalltalk)} small-talk items: {len(findings)} warning(s)\n")
    return 1 if findings and args.strict else 0


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from .server import run

    config = Config.from_env(host=args.host, port=args.port, knowledge=args.knowledge, encoder=args.encoder,
                             origins=tuple(args.origins.split(",")) if args.origins else None,
                             workers=args.workers, sessions=args.sessions, admin_token=args.admin_token,
                             log_db=args.log_db, logging=False if args.no_log else None,
                             retention_days=args.retention_days, max_connections=args.max_connections,
                             trusted_proxies=tuple(args.trusted_proxies.split(",")) if args.trusted_proxies else None,
                             log_text=True if args.log_text else None)
    run(config)
    return 0


def cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    from . import report

    bot = _bot(args)
    db = _config(args).log_db
    if args.suggest:
        return print_suggestions(bot, db, days=args.days, as_json=args.format == "json", out=out)
    result = report.build(db, days=args.days, bot=bot)
    if args.format == "json":
        out.write(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n")
    elif args.format == "html":
        print_dashboard(bot, db, days=args.days, out=out)
    elif args.format == "csv":
        out.write(result.to_csv())
    else:
        out.write(result.to_table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faqbot", description="Conversational FAQ bot: ask, chat, test, serve.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--knowledge", "-k", metavar="DIR", default=None,
                        help="knowledge directory (default: $FAQBOT_KNOWLEDGE or the bundled KB)")
    common.add_argument("--encoder", metavar="MODEL", default=None,
                        help="sentence encoder: 'default' (the pinned all-MiniLM-L6-v2), a directory with model.onnx "
                             "and tokenizer.json, or 'off' for lexical matching only ($FAQBOT_ENCODER)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ask", parents=[common], help="answer one question, or one per stdin line with '-'")
    p.add_argument("text", help="the question, or '-' to read one per line from stdin")
    p.add_argument("--json", action="store_true", help="print the reply as one JSON object per line")
    p.add_argument("--explain", action="store_true", help="also show the ranked candidates and why")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", parents=[common], help="a conversation in the terminal (or stdin lines with --json)")
    p.add_argument("--json", action="store_true", help="read stdin lines as one conversation, print JSON replies")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("test", parents=[common], help="run an answer test suite (default: the KB's tests.yaml)")
    p.add_argument("file", nargs="?", help="tests YAML file")
    p.add_argument("--verbose", "-v", action="store_true", help="list passing cases too")
    p.add_argument("--min-accuracy", type=float, default=None, metavar="SHARE",
                   help="pass when at least this share of cases pass (for visitor-style suites), e.g. 0.85")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("lint", parents=[common], help="validate the KB and report shadowing and duplicates")
    p.add_argument("--strict", action="store_true", help="exit non-zero on warnings too")
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("serve", parents=[common], help="run the web server (websocket, HTTP API, widget)")
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1; $FAQBOT_HOST)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000; $FAQBOT_PORT)")
    p.add_argument("--origins", default=None, help="comma-separated allowed websocket origins ($FAQBOT_ORIGINS)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default 1; $FAQBOT_WORKERS)")
    p.add_argument("--sessions", default=None, help="'memory' or redis://HOST:PORT/DB ($FAQBOT_SESSIONS)")
    p.add_argument("--log-text", action="store_true",
                   help="debug only: let the server log show the frames visitors send ($FAQBOT_LOG_TEXT)")
    p.add_argument("--max-connections", type=int, default=None,
                   help="sockets open at once (default 2000; $FAQBOT_MAX_CONNECTIONS)")
    p.add_argument("--trusted-proxies", default=None,
                   help="comma-separated proxy addresses or networks whose X-Forwarded-For is believed "
                        "($FAQBOT_TRUSTED_PROXIES)")
    p.add_argument("--admin-token", default=None, help="bearer token enabling /admin routes ($FAQBOT_ADMIN_TOKEN)")
    p.add_argument("--log-db", default=None, help="the conversation log: a SQLite file, or a postgresql:// URL "
                                                   "to share one log between servers ($FAQBOT_LOG_DB)")
    p.add_argument("--no-log", action="store_true", help="record nothing ($FAQBOT_LOGGING=off)")
    p.add_argument("--retention-days", type=int, default=None,
                   help="days the log keeps a turn (default 90; $FAQBOT_RETENTION_DAYS)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("report", parents=[common], help="what people asked that the bot could not answer, from the "
                                                       "conversation log")
    p.add_argument("--log-db", "--db", dest="log_db", default=None,
                   help="the conversation log, a SQLite file or postgresql:// URL (default: "
                        "$FAQBOT_LOG_DB or faqbot-log.sqlite3)")
    p.add_argument("--format", choices=("table", "json", "csv", "html"), default="table", help="output format")
    p.add_argument("--days", type=int, default=None, help="only the last N days (default: the whole log)")
    p.add_argument("--suggest", action="store_true", help="print phrasings to add to entries, as YAML to paste "
                                                          "into the knowledge base")
    p.set_defaults(func=cmd_report)
    add_authoring_commands(sub, common)
    add_callback_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, out or sys.stdout))
    except FaqbotError as exc:
        sys.stderr.write(f"faqbot: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``faqbot callbacks list|export --csv|delete ID``: the clinic staff's view of stored callback requests."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, TextIO

from .callback_store import CallbackStore
from .config import Config
from .exceptions import ConfigError


def open_store(args: argparse.Namespace) -> CallbackStore:
    config = Config.from_env(callbacks_db=getattr(args, "db", None))
    return CallbackStore(config.callbacks_db, retention_days=config.callback_retention_days)


def cmd_callbacks(args: argparse.Namespace, out: TextIO) -> int:
    store = open_store(args)
    try:
        if args.action == "list":
            items = store.list(pending_only=args.pending)
            if args.json:
                out.writelines(json.dumps(item.to_dict(), ensure_ascii=False) + "\n" for item in items)
                return 0
            if not items:
                out.write("no callback requests stored\n")
            for item in items:
                r = item.request
                status = "notified" if item.notified else (
                    f"NOT notified ({item.attempts} attempts: {item.last_error})" if item.attempts else "not notified")
                when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.created))
                out.write(f"{r.id}  {when} UTC  {r.name}  {r.phone or r.email}  best: {r.best_time}  [{status}]\n")
                if r.note:
                    out.write(f"    note: {r.note}\n")
            return 0
        if args.action == "export":
            count = store.export_csv(out)
            return 0 if count >= 0 else 1
        if args.action == "delete":
            if not args.id:
                raise ConfigError("name the request to delete: faqbot callbacks delete ID (ids from 'callbacks list')")
            if store.delete(args.id):
                out.write(f"deleted {args.id}\n")
                return 0
            out.write(f"no callback request {args.id!r}; see 'faqbot callbacks list'\n")
            return 1
        raise ConfigError(f"unknown action {args.action!r}")
    finally:
        store.close()


def add_commands(sub: Any) -> None:
    p = sub.add_parser("callbacks", help="callback requests visitors left: list, export as CSV, delete by id")
    p.add_argument("action", choices=("list", "export", "delete"))
    p.add_argument("id", nargs="?", help="the request to delete")
    p.add_argument("--db", default=None, help="the callbacks file or a postgresql:// URL (default: "
                                              "$FAQBOT_CALLBACKS_DB or faqbot-callbacks.sqlite3)")
    p.add_argument("--csv", action="store_true", help="export as CSV (the only export format)")
    p.add_argument("--json", action="store_true", help="list as one JSON object per line")
    p.add_argument("--pending", action="store_true", help="list only requests not notified yet")
    p.set_defaults(func=cmd_callbacks)

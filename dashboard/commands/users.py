"""`orca-dashboard users add|list|disable|enable|set-roles|reset-password|unlock`: console users.

The command acts as ``cli:<os user>`` with admin rights (whoever can run it can reach the
database anyway); every change is audited under that name. Passwords are asked twice on a
terminal, or read from one line of standard input with --password-stdin; never from arguments.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dashboard.actions.base import ActionResult, Actor

COMMAND = "users"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def add_parser(subparsers: Any) -> None:
    users = subparsers.add_parser(
        COMMAND, help="manage console users (add, list, disable, roles, passwords)"
    )
    sub = users.add_subparsers(dest="users_command", metavar="SUBCOMMAND")
    sub.required = True
    roles_help = "comma-separated roles: manager, operator, oncall, admin"

    add = sub.add_parser("add", help="create a user (password asked, or --password-stdin)")
    add.add_argument("username")
    add.add_argument("--roles", required=True, help=roles_help)
    add.add_argument("--display-name", default=None, help="name shown in the console")
    add.add_argument("--email", default=None)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    sub.add_parser("list", help="list users, their roles and state")

    disable = sub.add_parser("disable", help="disable a user and end their sessions")
    disable.add_argument("username")
    disable.add_argument("--reason", default=None, help="why (kept in the audit log)")

    enable = sub.add_parser("enable", help="enable a disabled user again")
    enable.add_argument("username")

    roles = sub.add_parser("set-roles", help="replace a user's roles")
    roles.add_argument("username")
    roles.add_argument("--roles", required=True, help=roles_help)

    email = sub.add_parser(
        "set-email", help="set a user's e-mail address (the monthly report goes to managers')"
    )
    email.add_argument("username")
    email.add_argument("email", help="the address; an empty string clears it")

    reset = sub.add_parser(
        "reset-password", help="set a new password, unlock, and end the user's sessions"
    )
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    unlock = sub.add_parser("unlock", help="lift a lock from failed sign-ins now")
    unlock.add_argument("username")


class _UsageError(Exception):
    pass


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise _UsageError("--password-stdin: standard input was empty")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise _UsageError("no terminal to ask for the password on; pipe it with --password-stdin")
    first = getpass.getpass("New password: ")
    second = getpass.getpass("Repeat it: ")
    if first != second:
        raise _UsageError("the two passwords differ; nothing was changed")
    return first


def run(args: argparse.Namespace) -> int:
    from dashboard.actions.base import cli_actor
    from dashboard.db.engine import make_engine
    from dashboard.db.migrate import upgrade
    from dashboard.services import resolve_services

    try:
        password = (
            _read_password(args.password_stdin)
            if args.users_command in ("add", "reset-password")
            else None
        )
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EOFError, KeyboardInterrupt):
        print("error: cancelled; nothing was changed", file=sys.stderr)
        return EXIT_FAILED

    services = resolve_services("users")
    try:
        upgrade(services.database)
        engine = make_engine(services.database)
        actor = cli_actor()
        if args.users_command == "list":
            return _list(engine, actor)
        result: ActionResult = _change(engine, actor, args, password)
    finally:
        services.stop()
    stream = sys.stdout if result.ok else sys.stderr
    print(result.message if result.ok else f"error: {result.message}", file=stream)
    return EXIT_OK if result.ok else EXIT_FAILED


def _change(
    engine: Engine, actor: Actor, args: argparse.Namespace, password: str | None
) -> ActionResult:
    from dashboard.actions import users

    cmd = args.users_command
    if cmd == "add":
        return users.add_user(
            engine,
            actor,
            args.username,
            password=password or "",
            roles=args.roles,
            display_name=args.display_name,
            email=args.email,
        )
    if cmd == "disable":
        return users.disable_user(engine, actor, args.username, reason=args.reason)
    if cmd == "enable":
        return users.enable_user(engine, actor, args.username)
    if cmd == "set-roles":
        return users.set_roles(engine, actor, args.username, args.roles)
    if cmd == "set-email":
        return users.set_email(engine, actor, args.username, args.email)
    if cmd == "reset-password":
        return users.reset_password(engine, actor, args.username, password or "")
    if cmd == "unlock":
        return users.unlock_user(engine, actor, args.username)
    raise AssertionError(f"unhandled users subcommand {cmd}")  # argparse allows no other


def _printable(text: str) -> str:
    """User-entered text for a terminal: control characters shown as '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _list(engine: Engine, actor: Actor) -> int:
    from datetime import UTC, datetime

    from dashboard.actions.users import list_users

    rows = list_users(engine, actor)
    if not rows:
        print("no users yet: add one with `orca-dashboard users add NAME --roles admin`")
        return EXIT_OK
    now = datetime.now(UTC)
    table = [("USER", "ROLES", "STATE", "LAST SIGN-IN", "NAME", "E-MAIL")]
    for u in rows:
        state = "disabled" if u.disabled else "enabled"
        if u.locked(now) and u.locked_until is not None:
            state += f", locked until {u.locked_until:%Y-%m-%d %H:%M} UTC"
        last = f"{u.last_sign_in:%Y-%m-%d %H:%M} UTC" if u.last_sign_in else "never"
        table.append(
            (
                u.username,
                ",".join(u.roles),
                state,
                last,
                _printable(u.display_name),
                _printable(u.email or ""),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK

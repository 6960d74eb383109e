"""Command groups of `orca-dashboard` kept in their own modules (users, core, chaos ...).

Each module defines COMMAND, add_parser(subparsers) and run(args) -> int; dashboard.cli finds them.
"""

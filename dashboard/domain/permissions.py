"""Roles and permissions: the one table that decides who may open which page and press what.

Navigation, buttons and the server-side checks in ``dashboard.actions`` all ask :func:`allowed`
(or the helpers built on it), so a permission can never be granted in one place and refused in
another. Pure data and functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType


class Role(StrEnum):
    """What a user is. A user may hold several roles; permissions add up."""

    MANAGER = "manager"
    OPERATOR = "operator"
    ONCALL = "oncall"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW_DASHBOARDS = "view_dashboards"
    VIEW_REPORTS = "view_reports"
    QUARANTINE_AGENTS = "quarantine_agents"
    RELEASE_AGENTS = "release_agents"
    REVIEW_DISCOVERIES = "review_discoveries"
    MANAGE_ALERTS = "manage_alerts"
    MANAGE_INCIDENTS = "manage_incidents"
    RUN_RUNBOOKS = "run_runbooks"
    MANAGE_BACKUPS = "manage_backups"
    RUN_DRILLS = "run_drills"
    MANAGE_USERS = "manage_users"
    MANAGE_SETTINGS = "manage_settings"
    VIEW_AUDIT_ALL = "view_audit_all"
    VIEW_AUDIT_OWN = "view_audit_own"
    CHANGE_OWN_PASSWORD = "change_own_password"  # noqa: S105 - a permission name


P = Permission
# Every signed-in user reads every dashboard and report and their own audit trail, and
# changes their own password.
_READ = frozenset({P.VIEW_DASHBOARDS, P.VIEW_REPORTS, P.VIEW_AUDIT_OWN, P.CHANGE_OWN_PASSWORD})

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.MANAGER: _READ,
        Role.OPERATOR: _READ | {P.QUARANTINE_AGENTS, P.RELEASE_AGENTS, P.REVIEW_DISCOVERIES},
        Role.ONCALL: _READ
        | {P.MANAGE_ALERTS, P.MANAGE_INCIDENTS, P.RUN_RUNBOOKS, P.MANAGE_BACKUPS},
        # Admin holds everything, including what only admins have (users, settings, drills,
        # everybody's audit trail).
        Role.ADMIN: frozenset(Permission),
    }
)
"""THE permission table. Change access here and nowhere else."""

PAGE_PERMISSIONS: Mapping[str, Permission] = MappingProxyType(
    {
        "service_health": P.VIEW_DASHBOARDS,
        "trust_kpis": P.VIEW_DASHBOARDS,
        "agent_registry": P.VIEW_DASHBOARDS,
        "agent_detail": P.VIEW_DASHBOARDS,
        "review_queue": P.REVIEW_DISCOVERIES,
        "audit": P.VIEW_AUDIT_OWN,
        "account": P.CHANGE_OWN_PASSWORD,
        "users": P.MANAGE_USERS,
        "drill": P.RUN_DRILLS,
        # Backups, doctor, checklists, troubleshooting (issue 11, ops): everyone reads them.
        "backups": P.VIEW_DASHBOARDS,
        "doctor": P.VIEW_DASHBOARDS,
        "checklists": P.VIEW_DASHBOARDS,
        "troubleshooting": P.VIEW_DASHBOARDS,
        "runbooks": P.VIEW_DASHBOARDS,  # everyone sees runbooks and runs; pressing needs more
        # Reports (issue 13): every signed-in role reads reports (managers above all).
        "reports": P.VIEW_REPORTS,
        "sla_review": P.VIEW_REPORTS,
        "capacity": P.VIEW_REPORTS,
        # Notifications (issue 10): everyone reads contact points and the delivery log.
        "contact_points": P.VIEW_DASHBOARDS,
        # Incidents and on-call (issue 10): everybody signed in reads, oncall and admin act.
        "incidents": P.VIEW_DASHBOARDS,
        "oncall": P.VIEW_DASHBOARDS,
        # Alerts (issue 10): everyone reads; oncall and admin act (ACTION_PERMISSIONS).
        "alerts": P.VIEW_DASHBOARDS,
    }
)
"""Page id -> the permission needed to see it in the navigation and to open it."""

ACTION_PERMISSIONS: Mapping[str, Permission] = MappingProxyType(
    {
        "agent.quarantine": P.QUARANTINE_AGENTS,
        "agent.bulk_quarantine": P.QUARANTINE_AGENTS,
        "agent.release": P.RELEASE_AGENTS,
        "agent.bulk_release": P.RELEASE_AGENTS,
        "discovery.list": P.REVIEW_DISCOVERIES,
        "discovery.approve": P.REVIEW_DISCOVERIES,
        "discovery.reject": P.REVIEW_DISCOVERIES,
        "discovery.bulk_approve": P.REVIEW_DISCOVERIES,
        "discovery.bulk_reject": P.REVIEW_DISCOVERIES,
        "user.add": P.MANAGE_USERS,
        "user.list": P.MANAGE_USERS,
        "user.disable": P.MANAGE_USERS,
        "user.enable": P.MANAGE_USERS,
        "user.set_roles": P.MANAGE_USERS,
        "user.set_email": P.MANAGE_USERS,
        "user.reset_password": P.MANAGE_USERS,
        "user.unlock": P.MANAGE_USERS,
        "user.change_password": P.CHANGE_OWN_PASSWORD,
        "audit.list": P.VIEW_AUDIT_OWN,
        "audit.export": P.VIEW_AUDIT_OWN,
        "drill.start": P.RUN_DRILLS,
        "drill.stop": P.RUN_DRILLS,
        # Backups and the maintenance routine (issue 11, ops).
        "backup.run": P.MANAGE_BACKUPS,
        "backup.restore": P.MANAGE_BACKUPS,
        "backup.drill": P.MANAGE_BACKUPS,
        "checklist.sign_off": P.RUN_RUNBOOKS,
        # Runbooks (issue 11): one action per runbook; data/runbooks/<id>.toml names it.
        "runbook.service_restart": P.RUN_RUNBOOKS,
        "runbook.db_connections": P.RUN_RUNBOOKS,
        "runbook.high_error_rate": P.RUN_RUNBOOKS,
        "runbook.telemetry": P.RUN_RUNBOOKS,
        "report.generate": P.VIEW_REPORTS,
        # Notifications (issue 10): contact points are settings, so admins only.
        "contact_point.add": P.MANAGE_SETTINGS,
        "contact_point.edit": P.MANAGE_SETTINGS,
        "contact_point.disable": P.MANAGE_SETTINGS,
        "contact_point.enable": P.MANAGE_SETTINGS,
        "contact_point.test": P.MANAGE_SETTINGS,
        # Incidents and on-call (issue 10)
        "incident.declare": P.MANAGE_INCIDENTS,
        "incident.set_phase": P.MANAGE_INCIDENTS,
        "incident.assign": P.MANAGE_INCIDENTS,
        "incident.note": P.MANAGE_INCIDENTS,
        "incident.status_update": P.MANAGE_INCIDENTS,
        "incident.postmortem": P.MANAGE_INCIDENTS,
        "incident.close": P.MANAGE_INCIDENTS,
        "oncall.edit_rotation": P.MANAGE_INCIDENTS,
        "oncall.override": P.MANAGE_INCIDENTS,
        "oncall.cancel_override": P.MANAGE_INCIDENTS,
        # Alerts (issue 10)
        "alert.acknowledge": P.MANAGE_ALERTS,
        "alert.silence": P.MANAGE_ALERTS,
        "alert.unsilence": P.MANAGE_ALERTS,
        "runbook.restore_backup": P.MANAGE_BACKUPS,
    }
)
"""Action name (as written to the audit log) -> the permission it needs.

The only place an action's permission is written: ``dashboard.actions.base.authorize`` looks
the action up here (an unknown name is a programming error, raised loudly), buttons ask
:func:`can_do`, and the role-matrix test enumerates this table.
"""


def permission_for(action: str) -> Permission:
    """The permission ``action`` needs; LookupError for an action missing from the table."""
    try:
        return ACTION_PERMISSIONS[action]
    except KeyError:
        raise LookupError(
            f"unknown action {action!r}: add it to ACTION_PERMISSIONS before using it"
        ) from None


def parse_roles(values: Iterable[str | Role]) -> tuple[Role, ...]:
    """Roles from text, deduplicated in declaration order; an unknown name is a ValueError."""
    chosen: set[Role] = set()
    for value in values:
        name = str(value).strip().lower()
        try:
            chosen.add(Role(name))
        except ValueError:
            raise ValueError(
                f"unknown role {name[:40]!r}; use one of {', '.join(r.value for r in Role)}"
            ) from None
    return tuple(r for r in Role if r in chosen)


def known_roles(values: Iterable[str | Role]) -> tuple[Role, ...]:
    """The recognised roles among ``values``, in declaration order; anything else grants nothing.

    The one reading of stored role names (sessions, users, permission checks), unlike
    :func:`parse_roles`, which refuses unknown names in input.
    """
    found: set[Role] = set()
    for value in values:
        try:
            found.add(Role(str(value)))
        except ValueError:
            continue
    return tuple(r for r in Role if r in found)


def permissions_of(roles: Iterable[str | Role]) -> frozenset[Permission]:
    """Everything the holder of ``roles`` may do (unknown role names grant nothing)."""
    granted: set[Permission] = set()
    for role in known_roles(roles):
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)


def allowed(roles: Iterable[str | Role], permission: Permission | str) -> bool:
    """True when any of ``roles`` grants ``permission``. Unknown names are simply refused."""
    try:
        wanted = Permission(str(permission))
    except ValueError:
        return False
    return wanted in permissions_of(roles)


def can_open(roles: Iterable[str | Role], page: str) -> bool:
    """True when the page exists and ``roles`` may open it (unknown pages: never)."""
    needed = PAGE_PERMISSIONS.get(page)
    return needed is not None and allowed(roles, needed)


def can_do(roles: Iterable[str | Role], action: str) -> bool:
    """True when the action exists and ``roles`` may perform it (unknown actions: never)."""
    needed = ACTION_PERMISSIONS.get(action)
    return needed is not None and allowed(roles, needed)


def pages_for(roles: Iterable[str | Role]) -> tuple[str, ...]:
    """Page ids the holder of ``roles`` may open, in PAGE_PERMISSIONS order (for navigation)."""
    granted = permissions_of(roles)
    return tuple(page for page, needed in PAGE_PERMISSIONS.items() if needed in granted)

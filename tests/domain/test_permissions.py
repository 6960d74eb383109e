"""The permission table: exact grants per role, admin has all, unknown names grant nothing."""

from __future__ import annotations

import pytest

from dashboard.domain.permissions import (
    ACTION_PERMISSIONS,
    PAGE_PERMISSIONS,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    allowed,
    can_do,
    can_open,
    known_roles,
    pages_for,
    parse_roles,
    permissions_of,
)

P = Permission
READ = {P.VIEW_DASHBOARDS, P.VIEW_REPORTS, P.VIEW_AUDIT_OWN, P.CHANGE_OWN_PASSWORD}

EXPECTED = {
    Role.MANAGER: READ,
    Role.OPERATOR: READ | {P.QUARANTINE_AGENTS, P.RELEASE_AGENTS, P.REVIEW_DISCOVERIES},
    Role.ONCALL: READ | {P.MANAGE_ALERTS, P.MANAGE_INCIDENTS, P.RUN_RUNBOOKS, P.MANAGE_BACKUPS},
    Role.ADMIN: set(Permission),
}


def test_vocabulary_is_exact() -> None:
    assert [r.value for r in Role] == ["manager", "operator", "oncall", "admin"]
    assert {p.value for p in Permission} == {
        "view_dashboards",
        "view_reports",
        "quarantine_agents",
        "release_agents",
        "review_discoveries",
        "manage_alerts",
        "manage_incidents",
        "run_runbooks",
        "manage_backups",
        "run_drills",
        "manage_users",
        "manage_settings",
        "view_audit_all",
        "view_audit_own",
        "change_own_password",
    }


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("permission", list(Permission), ids=str)
def test_each_cell_of_the_table(role: Role, permission: Permission) -> None:
    assert allowed([role], permission) == (permission in EXPECTED[role])
    assert allowed([role.value], permission.value) == (permission in EXPECTED[role])


def test_table_has_every_role_and_is_read_only() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    with pytest.raises(TypeError):
        ROLE_PERMISSIONS[Role.MANAGER] = frozenset(Permission)  # type: ignore[index]


def test_admin_only_permissions() -> None:
    for permission in (P.RUN_DRILLS, P.MANAGE_USERS, P.MANAGE_SETTINGS, P.VIEW_AUDIT_ALL):
        holders = {r for r in Role if allowed([r], permission)}
        assert holders == {Role.ADMIN}, permission


def test_several_roles_add_up() -> None:
    both = permissions_of([Role.OPERATOR, Role.ONCALL])
    assert both == frozenset(EXPECTED[Role.OPERATOR] | EXPECTED[Role.ONCALL])
    assert not allowed([Role.OPERATOR, Role.ONCALL], P.MANAGE_USERS)


@pytest.mark.parametrize("roles", [[], ["root"], ["ADMIN "], [None], ["admin\x00"]])
def test_unknown_or_no_roles_grant_nothing(roles: list[object]) -> None:
    assert permissions_of(roles) == frozenset()  # type: ignore[arg-type]
    assert not allowed(roles, P.VIEW_DASHBOARDS)  # type: ignore[arg-type]
    assert pages_for(roles) == ()  # type: ignore[arg-type]


def test_unknown_permissions_pages_and_actions_are_refused() -> None:
    assert not allowed([Role.ADMIN], "become_root")
    assert not can_open([Role.ADMIN], "secret_page")
    assert not can_do([Role.ADMIN], "agent.delete")


def test_pages_and_actions_map_to_real_permissions() -> None:
    assert set(PAGE_PERMISSIONS) >= {
        "service_health",
        "trust_kpis",
        "agent_registry",
        "agent_detail",
        "review_queue",
        "audit",
        "account",
        "users",
        "drill",
    }
    assert all(isinstance(p, Permission) for p in PAGE_PERMISSIONS.values())
    assert all(isinstance(p, Permission) for p in ACTION_PERMISSIONS.values())
    assert PAGE_PERMISSIONS["drill"] is P.RUN_DRILLS


def test_navigation_per_role() -> None:
    everyone = (
        "service_health",
        "trust_kpis",
        "agent_registry",
        "agent_detail",
        "audit",
        "account",
        "runbooks",  # issue 11: everybody sees runbooks and runs; running needs oncall/admin
        "reports",  # issue 13: everybody reads the managers' reports
        "sla_review",
        "capacity",
        "contact_points",  # issue 10: everybody reads contact points, incidents, rota, alerts
        "incidents",
        "oncall",
        "alerts",
        # Issue 11: everyone reads backups, doctor, checklists, troubleshooting and runbooks.
        "backups",
        "doctor",
        "checklists",
        "troubleshooting",
    )
    # Sets: the menu's order is dashboard.ui.navigation.PAGES, not the permission table's.
    assert set(pages_for([Role.MANAGER])) == set(everyone)
    assert set(pages_for([Role.ONCALL])) == set(everyone)
    assert set(pages_for([Role.OPERATOR])) == {*everyone, "review_queue"}
    assert pages_for([Role.ADMIN]) == tuple(PAGE_PERMISSIONS)


def test_parse_roles() -> None:
    assert parse_roles(["Oncall", " manager", "oncall"]) == (Role.MANAGER, Role.ONCALL)
    assert parse_roles([]) == ()
    with pytest.raises(ValueError, match="unknown role 'root'"):
        parse_roles(["root"])


def test_known_roles_reads_stored_names_and_drops_the_rest() -> None:
    assert known_roles(["oncall", "root", "manager", "oncall", "ADMIN", ""]) == (
        Role.MANAGER,
        Role.ONCALL,
    )
    assert known_roles([]) == ()

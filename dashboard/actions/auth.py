"""The authentication API the UI and commands import: re-exported from its one-job modules.

passwords (policy, bcrypt), signin (sign-in, lockout, page-load actor, sign-out), sessions
(the one liveness check), cookie_key and demo_users each do one job; code inside
dashboard.actions imports those modules directly.
"""

from __future__ import annotations

from dashboard.actions.cookie_key import CookieKeyError, check_cookie_key
from dashboard.actions.demo_users import DEMO_ROLES, ensure_demo_users, print_demo_users_once
from dashboard.actions.passwords import (
    generate_password,
    hash_password,
    password_problem,
    verify_password,
)
from dashboard.actions.signin import (
    LOGIN_FAILED_MESSAGE,
    AuthenticationFailed,
    ClientLimit,
    actor_from_session,
    authenticate,
    logout,
)

__all__ = [
    "DEMO_ROLES",
    "LOGIN_FAILED_MESSAGE",
    "AuthenticationFailed",
    "ClientLimit",
    "CookieKeyError",
    "actor_from_session",
    "authenticate",
    "check_cookie_key",
    "ensure_demo_users",
    "generate_password",
    "hash_password",
    "logout",
    "password_problem",
    "print_demo_users_once",
    "verify_password",
]

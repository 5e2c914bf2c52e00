"""PostgreSQL roles as code: one SQL bootstrap, applied unchanged on RDS, the local stack and the
integration tier.

The model (issue 17):

* three group roles, ``NOLOGIN``, no attribute beyond ``INHERIT``:

  - ``migration_role`` owns the application schema and so every table created in it (DDL);
  - ``app_role``: ``USAGE`` on the schema, ``SELECT/INSERT/UPDATE/DELETE`` on its tables,
    ``USAGE/SELECT/UPDATE`` on its sequences, ``EXECUTE`` on its functions; no ``CREATE``;
  - ``readonly_role``: ``USAGE`` on the schema, ``SELECT`` on its tables and sequences;

* one login per group (``migration_user``, ``app_user``, ``readonly_user``): ``LOGIN NOSUPERUSER
  NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS``, member of its group only, ``search_path``
  set to the schema. ``migration_user`` logs in with ``role = migration_role`` as its session
  default, so what it creates is owned by the group (and the default privileges below apply);
* ``ALTER DEFAULT PRIVILEGES FOR ROLE migration_role IN SCHEMA <schema>``: tables, sequences and
  functions the migrations create later carry the same grants;
* ``PUBLIC`` loses ``CREATE`` on the schema and on ``public`` (PostgreSQL < 15 grants it), and
  ``CREATE``/``TEMPORARY`` on the database; only app and migration get ``TEMPORARY`` back.

Why one rendered SQL file rather than the ``pulumi-postgresql`` provider: the same text runs in the
local container's init sequence, in the integration tier on a real server, and in the VPC on RDS
(components/aws/db_roles.py), so what the tests prove is byte for byte what production applies.
The provider would have to be proven separately (its plugin cannot be run here) and its refresh
connects to the database during every preview, which an offline review cannot do.

Passwords never appear in the SQL: it reads them from psql variables (``:'app_user_password'``),
set by ``ops.apply_sql --env`` on RDS (plaintext from Secrets Manager, hashed by the server) or by ``\\set``
lines of SCRAM verifiers in the local init script (:func:`psql_set_lines`). So the SQL itself is
not secret, sits in the deploy's inputs in clear, and the policy pack reads it
(``policies/secrets.py``). Every statement is idempotent (``\\gexec`` creates missing roles,
``ALTER`` resets attributes and passwords), so re-applying it converges and rotates passwords.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

MIGRATION_ROLE = "migration_role"
APP_ROLE = "app_role"
READONLY_ROLE = "readonly_role"
GROUP_ROLES = (MIGRATION_ROLE, APP_ROLE, READONLY_ROLE)
#: Login user -> the one group role it is a member of.
LOGINS: Mapping[str, str] = {"migration_user": MIGRATION_ROLE, "app_user": APP_ROLE, "readonly_user": READONLY_ROLE}
#: Attributes every group and login carries (reset on every apply).
SAFE_ATTRIBUTES = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
#: Attribute keywords that make a login privileged (the policy rule looks for them).
PRIVILEGED_ATTRIBUTES = ("SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS")

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"{name!r}: lower-case letters, digits and _, starting with a letter")
    return name


def password_variable(login: str) -> str:
    """psql variable holding ``login``'s password (or SCRAM verifier)."""
    return f"{_ident(login)}_password"


@dataclass(frozen=True)
class RoleModel:
    """Where the roles apply: one database, one application schema."""

    database: str = "app"
    schema: str = "app"

    def __post_init__(self) -> None:
        _ident(self.database)
        _ident(self.schema)


def render_roles_sql(model: RoleModel) -> str:
    """The bootstrap, for ``psql -v ON_ERROR_STOP=1 --dbname <database> -f``; run by a role that
    may create roles (a superuser, or the RDS master with ``rds_superuser``)."""
    s, db = model.schema, model.database
    lines = [
        "-- Rendered by components/render/postgres_roles.py: roles as code (issue 17). Idempotent;",
        "-- passwords come from psql variables, never from this text.",
        "\\set ON_ERROR_STOP on",
    ]
    for role in (*GROUP_ROLES, *LOGINS):
        lines.append(f"SELECT 'CREATE ROLE {role}' WHERE NOT EXISTS "
                     f"(SELECT FROM pg_roles WHERE rolname = '{role}') \\gexec")
    for role in GROUP_ROLES:
        lines.append(f"ALTER ROLE {role} WITH NOLOGIN {SAFE_ATTRIBUTES};")
    for login, group in LOGINS.items():
        lines += [
            f"ALTER ROLE {login} WITH LOGIN {SAFE_ATTRIBUTES} PASSWORD :'{password_variable(login)}';",
            f"GRANT {group} TO {login};",
            f"ALTER ROLE {login} SET search_path = {s};",
        ]
    lines += [
        f"ALTER ROLE migration_user SET role = {MIGRATION_ROLE};",
        # The applying role (the RDS master is no superuser) must be a member to hand the schema
        # over and to set default privileges for the group.
        f"GRANT {MIGRATION_ROLE} TO CURRENT_USER;",
        f"CREATE SCHEMA IF NOT EXISTS {s} AUTHORIZATION {MIGRATION_ROLE};",
        f"ALTER SCHEMA {s} OWNER TO {MIGRATION_ROLE};",
        f"REVOKE ALL ON SCHEMA {s} FROM PUBLIC;",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        f"REVOKE CREATE, TEMPORARY ON DATABASE {db} FROM PUBLIC;",
        f"GRANT CONNECT ON DATABASE {db} TO {', '.join(GROUP_ROLES)};",
        f"GRANT TEMPORARY ON DATABASE {db} TO {MIGRATION_ROLE}, {APP_ROLE};",
        f"GRANT USAGE ON SCHEMA {s} TO {APP_ROLE}, {READONLY_ROLE};",
        # Objects that exist already ...
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {APP_ROLE};",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {APP_ROLE};",
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {s} TO {APP_ROLE};",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {READONLY_ROLE};",
        f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {READONLY_ROLE};",
        # ... and those the migrations create later.
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {MIGRATION_ROLE} IN SCHEMA {s} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {MIGRATION_ROLE} IN SCHEMA {s} "
        f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {APP_ROLE};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {MIGRATION_ROLE} IN SCHEMA {s} GRANT EXECUTE ON FUNCTIONS TO {APP_ROLE};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {MIGRATION_ROLE} IN SCHEMA {s} GRANT SELECT ON TABLES TO {READONLY_ROLE};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {MIGRATION_ROLE} IN SCHEMA {s} "
        f"GRANT SELECT ON SEQUENCES TO {READONLY_ROLE};",
    ]
    return "\n".join(lines) + "\n"


def psql_set_lines(passwords: Mapping[str, str]) -> str:
    """``\\set`` lines giving every login its password variable (for a script run with ``psql -f``,
    e.g. the local init script, where the values are SCRAM verifiers)."""
    missing = set(LOGINS) - set(passwords)
    if missing:
        raise ValueError(f"no password for {sorted(missing)}")
    out = []
    for login in LOGINS:
        value = passwords[login]
        if any(c in value for c in "'\\\n\r\0"):
            raise ValueError(f"{login}: the password contains a quote, backslash or line break")
        out.append(f"\\set {password_variable(login)} '{value}'")
    return "\n".join(out) + "\n"


def password_env(login: str) -> str:
    """Environment variable name of ``login``'s password in the RDS apply command."""
    return password_variable(login).upper()

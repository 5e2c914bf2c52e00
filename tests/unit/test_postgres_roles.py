"""Issue 17: roles as code, rendered (components/render/postgres_roles.py) and run by the local
stack's first boot (components/docker/postgres.py)."""

from __future__ import annotations

import re

import pytest

from components.docker.postgres import (
    APP_USER,
    PATRONI_CONTAINER,
    bootstrap_sql,
    db_roles_sql,
    patroni_member_files,
    pgbouncer_userlist,
    role_verifiers,
)
from components.render.patroni import PatroniMember
from components.render.postgres_roles import (
    LOGINS,
    PRIVILEGED_ATTRIBUTES,
    RoleModel,
    psql_set_lines,
    render_roles_sql,
)
from infra.settings import PostgresSettings

# ---------------------------------------------------------------- the rendered SQL


def test_model_names_three_groups_and_one_login_each() -> None:
    assert dict(LOGINS) == {"migration_user": "migration_role", "app_user": "app_role",
                            "readonly_user": "readonly_role"}


def test_sql_grants_least_privilege_and_default_privileges() -> None:
    sql = render_roles_sql(RoleModel(database="app", schema="app"))
    assert "CREATE SCHEMA IF NOT EXISTS app AUTHORIZATION migration_role;" in sql
    assert "REVOKE ALL ON SCHEMA app FROM PUBLIC;" in sql
    assert "REVOKE CREATE ON SCHEMA public FROM PUBLIC;" in sql
    assert "GRANT USAGE ON SCHEMA app TO app_role, readonly_role;" in sql
    assert "GRANT CREATE" not in sql  # nobody but the owner (migration_role) creates
    assert ("ALTER DEFAULT PRIVILEGES FOR ROLE migration_role IN SCHEMA app "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO app_role;") in sql
    assert "ALTER DEFAULT PRIVILEGES FOR ROLE migration_role IN SCHEMA app GRANT SELECT ON TABLES TO readonly_role;" \
        in sql
    assert "ALTER ROLE migration_user SET role = migration_role;" in sql
    for login, group in LOGINS.items():
        assert (f"ALTER ROLE {login} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
                f"INHERIT PASSWORD :'{login}_password';") in sql
        assert f"GRANT {group} TO {login};" in sql
    # No privileged attribute is ever granted (only the NO... forms appear).
    for attr in PRIVILEGED_ATTRIBUTES:
        assert not re.search(rf"(?<!NO){attr}\b", sql), attr


def test_sql_holds_no_password_and_rejects_bad_identifiers() -> None:
    sql = render_roles_sql(RoleModel())
    assert "PASSWORD '" not in sql
    with pytest.raises(ValueError):
        RoleModel(schema="App; DROP")
    with pytest.raises(ValueError, match="quote"):
        psql_set_lines({login: "it's" for login in LOGINS})
    with pytest.raises(ValueError, match="no password"):
        psql_set_lines({"app_user": "x"})


# ---------------------------------------------------------------- the local stack's init scripts


def _verifiers() -> dict[str, str]:
    from components.docker.postgres import ROLES
    return role_verifiers({r: f"pw-{r}" for r in ROLES}, seed=b"0" * 16)


def test_local_primary_runs_the_same_bootstrap_after_the_service_roles() -> None:
    v = _verifiers()
    files = patroni_member_files(PostgresSettings(), PATRONI_CONTAINER, member=PatroniMember("primary", "pg-primary",
                                 5432, 8008), etcd_hosts=["pg-etcd-1:2379"], client_cidrs=["10.0.0.0/24"],
                                 bootstrap=bootstrap_sql(v, database="app"))
    script = files[f"{PATRONI_CONTAINER.conf_dir}/bootstrap.sql"]
    service, roles = script.split("\\connect app\n", 1)
    assert roles.endswith(db_roles_sql(v, database="app"))
    assert roles.endswith(render_roles_sql(RoleModel(database="app")))
    assert f"\\set app_user_password '{v['app_user']}'" in roles
    assert "OWNER" not in service and "app_user" not in service  # no login owns the database (issue 15 item 8)
    assert "CREATE DATABASE app;" in service
    assert APP_USER == "app_user" and '"app_user"' in pgbouncer_userlist(v)

"""ops.apply_sql: the psql subset the roles bootstrap uses, parsed before anything runs (the integration
tier applies the real script with it to a real PostgreSQL: tests/integration/test_postgres_roles_on_real_server.py)."""

from __future__ import annotations

import pytest

from components.render.postgres_roles import LOGINS, RoleModel, password_variable, render_roles_sql
from ops.apply_sql import ScriptError, _variables, parse


def test_the_roles_bootstrap_parses_into_statements_with_its_variables() -> None:
    script = render_roles_sql(RoleModel(database="app"))
    values = {password_variable(login): f"pw-{login}" for login in LOGINS}
    steps = parse(script, values)
    gexec = [s for s, _ in steps if s.gexec]
    assert len(gexec) == 6 and all(s.sql.startswith("SELECT 'CREATE ROLE ") for s in gexec)
    used = {name: value for _, u in steps for name, value in u.items()}
    assert used == values
    assert all("\\" not in s.sql for s, _ in steps)


@pytest.mark.parametrize(("script", "message"), [
    ("\\connect other\nSELECT 1;\n", "psql command .*connect.* is not supported"),
    ("ALTER ROLE x PASSWORD :'missing';\n", "variable 'missing' has no value"),
    ("SELECT 1\n", "ends inside a statement"),
    ("SELECT 1 \\g;\n", "backslash command inside a statement"),
])
def test_anything_beyond_the_subset_is_refused_before_running(script: str, message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        parse(script, {})


def test_variables_come_from_the_environment_only() -> None:
    assert _variables(["a=ENV_A"], {"ENV_A": "secret"}) == {"a": "secret"}
    with pytest.raises(ScriptError, match="the environment has no ENV_B"):
        _variables(["b=ENV_B"], {})

"""Issue 17: the RDS side of roles as code (components/aws/db_roles.py): the exact provider inputs
of the login secrets, their passwords and the bootstrap command."""

from __future__ import annotations

import hashlib
import json
import re

import pulumi
import pytest

from components.aws.db_roles import (
    ROTATION_EXEMPT_TAG,
    TYPE_TOKEN,
    PostgresRoles,
    PostgresRolesArgs,
    apply_command,
    apply_env,
)
from components.render.postgres_roles import LOGINS, RoleModel, render_roles_sql
from review.mocks import SECRET
from review.program import ProgramRun, record

SECRETS_KEY = "arn:aws:kms:us-east-1:123456789012:key/secrets-primary"
COMMAND = "command:local:Command"
SECRET_T = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
PASSWORD = "random:index/randomPassword:RandomPassword"



def test_rds_apply_command_reads_passwords_from_the_environment() -> None:
    cmd = apply_command()
    # The runner has no psql (egress 443 only, no apt mirror): the project's own psycopg runner applies it,
    # and the passwords come from the environment, never the command line.
    assert cmd == ("python -m ops.apply_sql --env migration_user_password=MIGRATION_USER_PASSWORD "
                   "--env app_user_password=APP_USER_PASSWORD --env readonly_user_password=READONLY_USER_PASSWORD")
    assert "psql" not in cmd
    env = apply_env(host="h", port=5432, user="dp_admin", password="pw", database="app",
                    passwords={login: f"p-{login}" for login in LOGINS})
    assert env["PGSSLMODE"] == "require" and env["PGUSER"] == "dp_admin"
    assert env["MIGRATION_USER_PASSWORD"] == "p-migration_user"


# ---------------------------------------------------------------- the RDS component


def _run(apply: bool = True, **overrides: object) -> ProgramRun:
    def program() -> None:
        args = PostgresRolesArgs(address="dp-pg.abc.us-east-1.rds.amazonaws.com", master_password=pulumi.Output.secret(
            "master-pw"), secrets_kms_key_arn=SECRETS_KEY, name="dp-prod", tags={"team": "data"},
            **overrides)  # type: ignore[arg-type]
        roles = PostgresRoles("roles", args)
        if apply:
            roles.apply()
        pulumi.export("arns", roles.secret_arns)

    return record(program, stack="production")


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return _run()


def test_bootstrap_command_inputs(run: ProgramRun) -> None:
    cmds = run.by_type(COMMAND)
    assert len(cmds) == 1
    c = cmds[0]
    sql = render_roles_sql(RoleModel())
    assert c.inputs["stdin"] == sql  # in clear: it holds no secret, the policy pack reads it
    assert c.inputs["create"] == apply_command() == c.inputs["update"]
    assert c.inputs["triggers"] == [hashlib.sha256(sql.encode()).hexdigest(), 1]
    env = c.raw_inputs["environment"]
    assert env["PGHOST"] == "dp-pg.abc.us-east-1.rds.amazonaws.com" and env["PGPASSWORD"] == "master-pw"
    assert env["PGSSLMODE"] == "require"
    assert c.inputs["environment"] == SECRET and "environment" in c.secret_paths
    assert {d.split("::")[-1] for d in c.dependencies} >= {f"roles-{login}-secret-value" for login in LOGINS}


def test_login_secrets_passwords_and_exemption_tags(run: ProgramRun) -> None:
    secrets = {r.name: r for r in run.by_type(SECRET_T)}
    assert set(secrets) == {f"roles-{login}-secret" for login in LOGINS}
    for login, group in LOGINS.items():
        s = secrets[f"roles-{login}-secret"].inputs
        assert s["namePrefix"] == f"dp-prod/postgres/{login}-" and s["kmsKeyId"] == SECRETS_KEY
        assert s["tags"][ROTATION_EXEMPT_TAG].startswith("rotated by pulumi up")
        assert re.fullmatch(r"[\w .:/=+\-@]*", s["tags"][ROTATION_EXEMPT_TAG])  # AWS tag value charset
        assert s["tags"]["team"] == "data" and group in s["description"]
        pw = next(r for r in run.by_type(PASSWORD) if r.name == f"roles-{login}-password")
        assert pw.inputs["keepers"] == {"generation": "1"} and pw.inputs["length"] == 32
        version = next(r for r in run.by_type(SECRET_VERSION) if r.name == f"roles-{login}-secret-value")
        value = json.loads(version.raw_inputs["secretString"])
        assert value["username"] == login and value["dbname"] == "app" and len(value["password"]) == 32
        assert version.inputs["secretString"] == SECRET
        assert value["password"] == run.by_type(COMMAND)[0].raw_inputs["environment"][f"{login.upper()}_PASSWORD"]


def test_rotation_generation_changes_keepers_and_triggers() -> None:
    run = _run(rotation_generation=2)
    assert run.by_type(COMMAND)[0].inputs["triggers"][1] == 2
    assert all(p.inputs["keepers"] == {"generation": "2"} for p in run.by_type(PASSWORD))
    assert [r for r in run.resources if r.type == TYPE_TOKEN]


def test_invalid_args() -> None:
    # an ArgsError is a pulumi.RunError: the program run reports it as its one error and registers nothing
    for field, value in (("rotation_generation", 0), ("schema", "Bad")):
        run = _run(**{field: value})
        assert run.error is not None and run.error.startswith(f"PostgresRolesArgs.{field}: ") and not run.resources


def test_no_apply_no_command_but_the_secrets() -> None:
    run = _run(apply=False)
    assert not run.by_type(COMMAND) and len(run.by_type(SECRET_T)) == 3

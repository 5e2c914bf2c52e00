"""PostgreSQL roles as code on RDS: three logins with passwords in Secrets Manager, and the bootstrap
SQL of ``components/render/postgres_roles.py`` applied from inside the VPC.

``PostgresRoles`` (type ``data-platform:aws:PostgresRoles``) creates, parented to itself:

* per login (``migration_user``, ``app_user``, ``readonly_user``): a ``random.RandomPassword``
  (``keepers`` = the rotation generation) and a Secrets Manager secret (secrets KMS key) holding
  ``{username, password, host, port, dbname, engine}``;
* on :meth:`PostgresRoles.apply` (called by ``Postgres.apply_roles_from`` for a deploy host inside
  the VPC; a stack whose deploy runs outside, like dev on GitHub-hosted runners, gets the secrets and
  the rendered SQL but no apply) one ``command.local.Command`` that runs ``python -m ops.apply_sql`` (psycopg; the
  psql subset the script uses) with the rendered SQL on stdin, as the RDS master user, on the deploy
  host (the CodeBuild runner inside the
  VPC, components/aws/deploy_runner.py, which reaches the primary privately); the SQL is the text the
  integration tier proves on a real server (tests/integration/test_postgres_roles_on_real_server.py) and the local
  stack runs at first boot. Its ``triggers`` are the SQL's hash and the generation, so a changed
  model or a rotation re-applies it (the SQL is idempotent). The SQL holds no secret: passwords go
  through ``environment`` (Pulumi secrets) into ``--env`` variables; TLS is required (``sslmode=verify-full``
  would need the RDS CA bundle on the runner; ``require`` is what ``rds.force_ssl`` enforces).

Rotation: the login secrets have no Secrets Manager rotation schedule; a rotation Lambda would need
its own VPC placement and the multi-user rotation template. They rotate by bumping
``rotation_generation``: new passwords, the bootstrap re-applied with them (``ALTER ROLE ...
PASSWORD``), the secrets updated in the same ``up``. Each secret carries the exemption tag
:data:`ROTATION_EXEMPT_TAG` with that reason, which ``policies/secrets.py`` requires.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_command as command
import pulumi_random as random

from components.base import NAME_RE, ArgsError, Problems, child_opts, merge_tags
from components.render.postgres_roles import (
    LOGINS,
    RoleModel,
    password_env,
    password_variable,
    render_roles_sql,
)

TYPE_TOKEN = "data-platform:aws:PostgresRoles"
#: Tag a Secrets Manager secret carries when it has no rotation schedule: the written reason.
ROTATION_EXEMPT_TAG = "rotation-exempt"
#: AWS tag values allow letters, digits, spaces and ``_ . : / = + - @`` only (no parentheses, commas).
LOGIN_ROTATION_REASON = ("rotated by pulumi up: bump rotationGeneration and the roles bootstrap re-applies new "
                         "passwords from inside the VPC - no rotation Lambda in the VPC yet")
PASSWORD_SPECIALS = "!*()-_=+[]{}<>"


@dataclass(frozen=True)
class PostgresRolesArgs:
    """Inputs of :class:`PostgresRoles`: where the primary is and how to log in as its master."""

    address: pulumi.Input[str]
    """Primary's DNS name (private; resolvable from the deploy runner in the VPC)."""
    master_password: pulumi.Input[str]
    """The RDS master password (a Pulumi secret)."""
    secrets_kms_key_arn: pulumi.Input[str]
    """KMS key (purpose ``secrets``) of the login secrets."""
    port: int = 5432
    database: str = "app"
    schema: str = "app"
    master_username: str = "dp_admin"
    name: str = "data-platform"
    """Prefix of the secret names (``<name>/postgres/<login>-``)."""
    rotation_generation: int = 1
    """Bump to rotate every login password (re-applies the bootstrap). Default: 1."""
    protect: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


def validate_postgres_roles_args(args: PostgresRolesArgs) -> None:
    """Raise one :class:`ArgsError` listing every invalid field, one per line (pure; no Pulumi needed)."""
    problems = Problems("PostgresRolesArgs")
    if not NAME_RE.match(args.name):
        problems.add("name", args.name, "lowercase letters, digits and single '-'")
    if args.rotation_generation < 1:
        problems.add("rotation_generation", args.rotation_generation, ">= 1")
    for fname in ("database", "schema"):
        try:
            RoleModel(**{fname: getattr(args, fname)})
        except ValueError as err:
            problems.add(fname, getattr(args, fname), str(err))
    problems.raise_any()


def apply_command() -> str:
    """Shell command applying the bootstrap (stdin) to the primary as the master user, TLS required.

    It runs ``ops.apply_sql`` (psycopg, from the project's virtualenv on the deploy host's PATH), not
    ``psql``: the runner has no postgresql-client and reaches no plain-HTTP apt mirror (egress 443
    only). Connection settings and passwords come from the environment (:func:`apply_env`); the
    passwords never appear on a command line."""
    return " ".join(["python", "-m", "ops.apply_sql",
                     *(f"--env {password_variable(login)}={password_env(login)}" for login in LOGINS)])


def apply_env(*, host: pulumi.Input[str], port: int, user: str, password: pulumi.Input[str], database: str,
              passwords: Mapping[str, pulumi.Input[str]]) -> dict[str, pulumi.Input[str]]:
    """Environment of :func:`apply_command`: libpq settings and one variable per login password."""
    env: dict[str, pulumi.Input[str]] = {"PGHOST": host, "PGPORT": str(port), "PGUSER": user, "PGPASSWORD": password,
                                         "PGDATABASE": database, "PGSSLMODE": "require", "PGCONNECT_TIMEOUT": "10"}
    for login in LOGINS:
        env[password_env(login)] = passwords[login]
    return env


class PostgresRoles(pulumi.ComponentResource):
    """Roles, logins and their secrets on the RDS primary; see the module docstring."""

    secret_arns: dict[str, pulumi.Output[str]]
    sql: str

    def __init__(self, name: str, args: PostgresRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        validate_postgres_roles_args(args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        a = args
        model = RoleModel(database=a.database, schema=a.schema)
        self.sql = render_roles_sql(model)
        passwords: dict[str, pulumi.Output[str]] = {}
        self.secret_arns = {}
        secrets: list[pulumi.Resource] = []
        for login in LOGINS:
            pw = random.RandomPassword(
                f"{name}-{login}-password", length=32, special=True, override_special=PASSWORD_SPECIALS,
                min_lower=1, min_upper=1, min_numeric=1, min_special=1,
                keepers={"generation": str(a.rotation_generation)}, opts=child_opts(self))
            passwords[login] = pw.result
            secret = aws.secretsmanager.Secret(
                f"{name}-{login}-secret", name_prefix=f"{a.name}/postgres/{login}-",
                kms_key_id=a.secrets_kms_key_arn, recovery_window_in_days=30,
                description=f"{a.name} PostgreSQL login {login} (member of {LOGINS[login]})",
                tags=merge_tags(a.tags, component="postgres", role=login,
                                **{ROTATION_EXEMPT_TAG: LOGIN_ROTATION_REASON}),
                opts=child_opts(self, stateful=True, protect=a.protect))
            secrets.append(aws.secretsmanager.SecretVersion(
                f"{name}-{login}-secret-value", secret_id=secret.id,
                secret_string=pulumi.Output.json_dumps({
                    "username": login, "password": pw.result, "host": a.address, "port": a.port,
                    "dbname": a.database, "engine": "postgres"}),
                opts=child_opts(self, stateful=True, protect=a.protect)))
            self.secret_arns[login] = secret.arn
        self._args, self._name, self._passwords, self._secrets = a, name, passwords, secrets
        self.bootstrap: command.local.Command | None = None
        self.register_outputs({"secretArns": self.secret_arns,
                               "sqlSha256": hashlib.sha256(self.sql.encode()).hexdigest()})

    def apply(self, depends_on: list[pulumi.Resource] | None = None) -> command.local.Command:
        """Apply the bootstrap from the deploy host on every ``up`` whose SQL hash or rotation generation
        changed. Only where the deploy runs inside the VPC (Postgres.apply_roles_from wires the network)."""
        if self.bootstrap is not None:
            raise ArgsError("PostgresRoles.apply", "apply", "twice", "once per component")
        a = self._args
        digest = hashlib.sha256(self.sql.encode()).hexdigest()
        self.bootstrap = command.local.Command(
            f"{self._name}-bootstrap", create=apply_command(), update=apply_command(), stdin=self.sql,
            environment=apply_env(host=a.address, port=a.port, user=a.master_username, password=a.master_password,
                                  database=a.database, passwords=self._passwords),
            triggers=[digest, a.rotation_generation],
            opts=child_opts(self, depends_on=[*self._secrets, *(depends_on or [])],
                            additional_secret_outputs=["environment"]))
        return self.bootstrap

"""Issue 17 items 1-2: the roles-as-code bootstrap (components/render/postgres_roles.py) on a real
PostgreSQL server that accepts TLS only (rendered postgresql.conf with ``ssl`` on and pg_hba.conf
with ``hostssl`` lines and ``hostnossl ... reject``).

The bootstrap is applied twice, the two ways the stacks apply it: first the local container's init
script (``20-db-roles.sql``: ``\\set`` lines of SCRAM verifiers + the SQL), then the RDS apply
command (components/aws/db_roles.py: ``psql -v <login>_password="$..." -f -`` with plaintext
passwords) with new passwords: re-applying converges and rotates. Then, per login: readonly cannot
write or create, app can DML but not DDL, migration can DDL, a table migration creates later is
readable by readonly and writable by app.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

try:
    from tests.integration import servers
except ImportError:  # pytest "prepend" import of tests/integration without __init__.py
    import servers  # type: ignore[no-redef]

from components.aws.db_roles import apply_command, apply_env
from components.docker.postgres import db_roles_sql, role_verifiers
from components.render.postgres import TlsFiles, render_pg_hba_conf, render_postgresql_conf
from components.render.postgres_roles import APP_ROLE, LOGINS, MIGRATION_ROLE, RoleModel, render_roles_sql
from infra.settings import PostgresSettings

pytestmark = pytest.mark.integration

SUPERUSER = "dp_admin"
DATABASE = "app"


@dataclass
class Server:
    port: int
    superuser_password: str
    passwords: dict[str, str]
    previous: dict[str, str]

    def connect(self, user: str = SUPERUSER, *, sslmode: str = "require") -> psycopg.Connection:  # type: ignore[type-arg]
        password = self.superuser_password if user == SUPERUSER else self.passwords[user]
        return servers.connect(self.port, user, password, DATABASE, sslmode=sslmode)


def _cert(root: Path) -> TlsFiles:
    key, crt = root / "server.key", root / "server.crt"
    servers.run([servers.binary("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(crt)], cwd=root)
    return TlsFiles(cert_file=str(crt), key_file=str(key))


def _psql(port: int, password: str, *, script: str, argv: list[str] | None = None) -> None:
    res = subprocess.run([servers.binary("psql"), "-X", "-v", "ON_ERROR_STOP=1", "-h", servers.HOST, "-p", str(port),
                          "-U", SUPERUSER, "-d", DATABASE, *(argv or []), "-f", "-"],
                         input=script, capture_output=True, text=True, timeout=60,
                         env={"PGPASSWORD": password, "PGSSLMODE": "require", "PATH": "/usr/bin:/bin"}, check=False)
    assert res.returncode == 0, res.stderr


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    try:
        servers.require("postgres", "initdb", "psql", "openssl")
    except servers.MissingBinary as err:
        pytest.fail(str(err), pytrace=False)
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-roles-"))
        tls = _cert(root)
        servers.make_dir(root / "sock", 0o755)
        su_pw = secrets.token_urlsafe(18)
        pwfile = servers.write_file(root / ".pw", su_pw + "\n")
        datadir = root / "primary"
        servers.run([servers.binary("initdb"), "-D", str(datadir), "-U", SUPERUSER, f"--pwfile={pwfile}",
                     "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
                     "--no-sync"], timeout=120)
        port = servers.free_port()
        settings = PostgresSettings(port=port)
        servers.write_file(datadir / "postgresql.conf", render_postgresql_conf(
            settings, listen_addresses=servers.HOST, archive_dir=None, tls=tls, pg_stat_statements=False,
            unix_socket_directory=str(root / "sock")))
        servers.write_file(datadir / "pg_hba.conf", render_pg_hba_conf(
            client_cidrs=["127.0.0.1/32"], replication_user="replicator", replication_cidrs=["127.0.0.1/32"],
            tls=True))
        proc = servers.Proc("postgres[roles]", [servers.binary("postgres"), "-D", str(datadir)],
                            root / "postgres.log")
        stack.callback(proc.stop)

        def up() -> bool:
            proc.check_alive()
            with servers.connect(port, SUPERUSER, su_pw, "postgres", sslmode="require"):
                return True

        servers.wait_until(up, timeout=60, what="the TLS-only server to accept connections")
        with servers.connect(port, SUPERUSER, su_pw, "postgres", sslmode="require") as c:
            c.execute(f"CREATE DATABASE {DATABASE}")
        # 1. the local stack's init script: SCRAM verifiers in \set lines + the bootstrap
        first = {login: secrets.token_urlsafe(18) for login in LOGINS}
        _psql(port, su_pw, script=db_roles_sql(role_verifiers(first, seed=secrets.token_bytes(16)),
                                               database=DATABASE))
        # 2. the RDS apply command, with new plaintext passwords from its environment
        second = {login: secrets.token_urlsafe(18) for login in LOGINS}
        res = subprocess.run(["/bin/sh", "-c", apply_command()], input=render_roles_sql(RoleModel(database=DATABASE)),
                             capture_output=True, text=True, timeout=60, check=False,
                             # No psql on the PATH, as on the deploy runner: only the project's venv.
                             env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                                  **apply_env(host=servers.HOST, port=port, user=SUPERUSER, password=su_pw,
                                              database=DATABASE, passwords=second)})
        assert res.returncode == 0, res.stderr
        s = Server(port, su_pw, second, first)
        with s.connect() as c:  # a table that exists before the logins use the schema
            c.execute("SET ROLE migration_role")
            c.execute("CREATE TABLE app.existing (id int PRIMARY KEY, v text)")
            c.execute("INSERT INTO app.existing VALUES (1, 'a')")
        yield s


def _denied(conn: psycopg.Connection, statement: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_plaintext_tcp_is_rejected_for_every_login(server: Server) -> None:
    for login in (*LOGINS, SUPERUSER):
        with pytest.raises(psycopg.OperationalError, match=r"no encryption|pg_hba\.conf rejects"):
            server.connect(login, sslmode="disable")
        with server.connect(login) as c:
            assert c.pgconn.ssl_in_use


def test_rotation_by_reapply_replaced_the_passwords(server: Server) -> None:
    """The second apply (RDS command, new passwords) converged: the first passwords no longer work."""
    for login in LOGINS:
        with server.connect(login) as c:
            assert c.execute("SELECT session_user").fetchone() == (login,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            servers.connect(server.port, login, server.previous[login], DATABASE, sslmode="require")


def test_logins_have_no_privileged_attribute_and_own_nothing(server: Server) -> None:
    with server.connect() as c:
        rows = c.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin "
            "FROM pg_roles WHERE rolname = ANY(%s) ORDER BY rolname", ([*LOGINS, APP_ROLE, MIGRATION_ROLE],)).fetchall()
        assert all(r[1:6] == (False,) * 5 for r in rows), rows
        assert {r[0]: r[6] for r in rows} == {"app_role": False, "app_user": True, "migration_role": False,
                                               "migration_user": True, "readonly_user": True}
        assert c.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                         (DATABASE,)).fetchone() == (SUPERUSER,)
        assert c.execute("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'app'").fetchone() \
            == (MIGRATION_ROLE,)


def test_readonly_reads_but_cannot_write_or_create(server: Server) -> None:
    with server.connect("readonly_user") as c:
        assert c.execute("SELECT v FROM existing WHERE id = 1").fetchone() == ("a",)
        _denied(c, "INSERT INTO existing VALUES (2, 'b')")
        _denied(c, "UPDATE existing SET v = 'x'")
        _denied(c, "DELETE FROM existing")
        _denied(c, "CREATE TABLE app.ro_made (id int)")
        _denied(c, "CREATE TABLE public.ro_made (id int)")
        _denied(c, "CREATE TEMP TABLE ro_tmp (id int)")
        _denied(c, "CREATE SCHEMA ro_schema")


def test_app_can_dml_but_not_ddl(server: Server) -> None:
    with server.connect("app_user") as c:
        c.execute("INSERT INTO existing VALUES (10, 'app')")
        c.execute("UPDATE existing SET v = 'app2' WHERE id = 10")
        assert c.execute("SELECT v FROM existing WHERE id = 10").fetchone() == ("app2",)
        c.execute("DELETE FROM existing WHERE id = 10")
        _denied(c, "CREATE TABLE app.app_made (id int)")
        _denied(c, "CREATE TABLE public.app_made (id int)")
        _denied(c, "ALTER TABLE existing ADD COLUMN w int")
        _denied(c, "DROP TABLE existing")
        _denied(c, "TRUNCATE existing")
        _denied(c, "CREATE SCHEMA app_schema")


def test_a_table_migration_creates_later_follows_the_rules(server: Server) -> None:
    with server.connect("migration_user") as c:
        assert c.execute("SELECT session_user, current_user").fetchone() == ("migration_user", MIGRATION_ROLE)
        c.execute("CREATE TABLE later (id bigserial PRIMARY KEY, v text)")
        c.execute("ALTER TABLE later ADD COLUMN w int")
        c.execute("CREATE INDEX later_v ON later (v)")
    with server.connect() as c:
        assert c.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'later'").fetchone() == (MIGRATION_ROLE,)
    with server.connect("app_user") as c:
        c.execute("INSERT INTO later (v) VALUES ('from app')")  # the sequence too
        c.execute("UPDATE later SET w = 1")
        _denied(c, "ALTER TABLE later DROP COLUMN w")
    with server.connect("readonly_user") as c:
        assert c.execute("SELECT v, w FROM later").fetchall() == [("from app", 1)]
        _denied(c, "INSERT INTO later (v) VALUES ('ro')")
        _denied(c, "DELETE FROM later")
    with server.connect("app_user") as c:
        c.execute("DELETE FROM later")
    with server.connect("migration_user") as c:
        c.execute("DROP TABLE later")

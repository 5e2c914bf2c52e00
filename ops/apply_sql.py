"""Apply a rendered psql script (the roles bootstrap) with psycopg, where no ``psql`` is installed.

The deploy runner (a CodeBuild-hosted GitHub Actions runner, egress 443 only) has Python and the
project's virtualenv from PyPI, but no ``postgresql-client``, and apt's plain-HTTP mirrors are out of
its reach. The scripts of ``components/render/postgres_roles.py`` use a small part of psql, which this
module implements exactly:

* ``\\set ON_ERROR_STOP on`` — always the behaviour here: the first error stops with exit 1;
* ``<query> \\gexec`` — run the query, then run each non-null value of its rows as a statement;
* ``:'name'`` — the variable ``name`` as an SQL string literal, quoted by the server's rules
  (psycopg's :class:`~psycopg.sql.Literal`, as psql quotes it);
* one statement per line ending in ``;``, and ``--`` comment lines.

Anything else (another backslash command, a ``:'name'`` without a value) is refused before the first
statement runs. Connection settings come from libpq's environment (``PGHOST``, ``PGPORT``, ``PGUSER``,
``PGPASSWORD``, ``PGDATABASE``, ``PGSSLMODE``), as for psql; statements run in autocommit, as psql's.

Usage: ``python -m ops.apply_sql --env app_user_password=APP_USER_PASSWORD ... < script.sql``
(``--env NAME=ENVVAR`` reads a variable's value from the environment, never from the command line).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

VARIABLE = re.compile(r":'([A-Za-z_][A-Za-z0-9_]*)'")


class ScriptError(ValueError):
    """The script uses psql features this runner does not implement, or names an unset variable."""


@dataclass(frozen=True)
class Step:
    sql: str
    gexec: bool
    """Run ``sql``, then every non-null value it returns as a statement."""


def parse(script: str, variables: Mapping[str, str]) -> list[tuple[Step, dict[str, str]]]:
    """Split the script into steps and the variables each uses (checked before anything runs)."""
    steps: list[tuple[Step, dict[str, str]]] = []
    pending: list[str] = []
    for number, raw in enumerate(script.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("--"):
            continue
        if line.startswith("\\"):
            if line.split() == ["\\set", "ON_ERROR_STOP", "on"]:
                continue
            raise ScriptError(f"line {number}: psql command {line.split()[0]!r} is not supported")
        gexec = line.endswith("\\gexec")
        if gexec:
            line = line.removesuffix("\\gexec").rstrip()
        elif "\\" in line:
            raise ScriptError(f"line {number}: a backslash command inside a statement is not supported")
        pending.append(line)
        if gexec or line.endswith(";"):
            sql = "\n".join(pending)
            pending = []
            used = {}
            for name in VARIABLE.findall(sql):
                if name not in variables:
                    raise ScriptError(f"line {number}: variable {name!r} has no value")
                used[name] = variables[name]
            steps.append((Step(sql, gexec), used))
    if pending:
        raise ScriptError("the script ends inside a statement (no closing ';')")
    return steps


def run(script: str, variables: Mapping[str, str], conninfo: str = "") -> int:
    """Apply ``script``; returns the number of statements executed (``\\gexec`` results included)."""
    import psycopg
    from psycopg import sql

    steps = parse(script, variables)
    executed = 0
    with psycopg.connect(conninfo, autocommit=True) as conn:
        def render(step_sql: str, used: Mapping[str, str]) -> str:
            return VARIABLE.sub(lambda m: sql.Literal(used[m.group(1)]).as_string(conn), step_sql)

        for step, used in steps:
            text = render(step.sql, used)
            cur = conn.execute(text.encode())
            executed += 1
            if step.gexec and cur.description is not None:
                for row in cur.fetchall():
                    for value in row:
                        if value is not None:
                            conn.execute(str(value).encode())
                            executed += 1
    return executed


def _variables(pairs: Sequence[str], env: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, var = pair.partition("=")
        if not sep or not name or not var:
            raise ScriptError(f"--env {pair!r}: expected NAME=ENVVAR")
        if var not in env:
            raise ScriptError(f"--env {pair!r}: the environment has no {var}")
        out[name] = env[var]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.apply_sql", description=__doc__.split("\n")[0])
    parser.add_argument("--env", action="append", default=[], metavar="NAME=ENVVAR",
                        help="set psql variable NAME from environment variable ENVVAR")
    args = parser.parse_args(argv)
    try:
        count = run(sys.stdin.read(), _variables(args.env, os.environ))
    except ScriptError as err:
        print(f"apply_sql: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # psycopg errors: one line, the server's message
        print(f"apply_sql: {type(err).__name__}: {str(err).strip()}", file=sys.stderr)
        return 1
    print(f"apply_sql: {count} statements applied", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

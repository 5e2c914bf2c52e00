"""Secrets and logins (mandatory): no application login has superuser/owner rights, and every Secrets
Manager secret rotates or states why not (issue 17).

* ``db-login-least-privilege`` reads the PostgreSQL roles bootstrap where the stack carries it in
  clear: the ``stdin`` of a ``command:local:Command`` (components/aws/db_roles.py) and ``*.psql`` /
  ``*.sql`` uploads of Docker containers (components/docker/postgres.py). A login role (``LOGIN``)
  given ``SUPERUSER``/``CREATEROLE``/``CREATEDB``/``REPLICATION``/``BYPASSRLS``, membership of
  ``rds_superuser``, or ownership (``OWNER TO``/``AUTHORIZATION`` naming a login) fails. On
  ElastiCache, a user other than ``default`` whose access string allows ``@admin``/``@dangerous``
  commands (``+@all`` without ``-@dangerous``) fails: the application's logins are not admins.
  Neo4j: the RBAC bootstrap Cypher (``*.cypher`` keys of a Kubernetes ConfigMap, ``*.cypher`` files in
  an EC2 instance's cloud-init ``write_files``; components/render/neo4j.py) grants the built-in ``admin``
  role to no login but the operators' ``admin_user``: ``readonly_user`` and ``app_user`` are never admin.
* ``secret-rotation-or-exemption``: every ``aws:secretsmanager/secret:Secret`` is the ``secretId`` of
  an ``aws:secretsmanager/secretRotation:SecretRotation``, or carries the tag ``rotation-exempt``
  whose value is a reason (at least :data:`MIN_REASON_CHARS` characters and not a bare yes/true).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from policies._base import (
    DOCKER_CONTAINER,
    EC2_INSTANCE,
    MANDATORY,
    SECRET,
    UNKNOWN,
    Resource,
    Stack,
    as_dict,
    as_list,
    resource_policy,
    stack_policy,
)

CONCERN = "secrets"
COMMAND = "command:local:Command"
ELASTICACHE_USER = "aws:elasticache/user:User"
K8S_CONFIGMAP = "kubernetes:core/v1:ConfigMap"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
EXEMPT_TAG = "rotation-exempt"
MIN_REASON_CHARS = 20
_NOT_REASONS = {"true", "yes", "1", "exempt", "n/a", "none", "todo"}

PRIVILEGED = ("SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS")
_ROLE_STMT = re.compile(r"\b(?:CREATE|ALTER)\s+(?:ROLE|USER)\s+\"?([a-z_][a-z0-9_]*)\"?\s+(?:WITH\s+)?([^;]*)",
                        re.IGNORECASE)
_OWNER = re.compile(r"\b(?:OWNER\s+TO|AUTHORIZATION)\s+\"?([a-z_][a-z0-9_]*)\"?", re.IGNORECASE)
_GRANT_SUPER = re.compile(r"\bGRANT\s+rds_superuser\s+TO\s+\"?([a-z_][a-z0-9_]*)\"?", re.IGNORECASE)


def _statements(sql: str) -> list[str]:
    """Statements of a psql script: split at ``;`` and at ``\\gexec`` (which ends a query without one)."""
    text = re.sub(r"--[^\n]*", "", sql)
    return [s.strip() for s in re.split(r";|\\gexec\b", text) if s.strip()]


def sql_findings(sql: str) -> list[str]:
    """What in ``sql`` gives a login role superuser or owner rights (one message per finding)."""
    logins: set[str] = set()
    attrs: dict[str, set[str]] = {}
    for stmt in _statements(sql):
        m = _ROLE_STMT.search(stmt)
        if m is None:
            continue
        role, rest = m.group(1).lower(), m.group(2).upper()
        words = set(re.findall(r"\b[A-Z]+\b", rest.split("PASSWORD")[0].split(" IN ROLE")[0]))
        if "LOGIN" in words:
            logins.add(role)
        attrs.setdefault(role, set()).update(words & set(PRIVILEGED))
    # CREATE USER implies LOGIN
    logins |= {m.group(1).lower() for m in re.finditer(r"\bCREATE\s+USER\s+\"?([a-z_][a-z0-9_]*)", sql, re.I)}
    out = [f"login {role} is given {', '.join(sorted(attrs[role]))}"
           for role in sorted(logins) if attrs.get(role)]
    out += [f"login {m.group(1)} is made an owner ({m.group(0).strip()})"
            for m in _OWNER.finditer(sql) if m.group(1).lower() in logins]
    out += [f"login {m.group(1)} is granted rds_superuser" for m in _GRANT_SUPER.finditer(sql)
            if m.group(1).lower() in logins]
    return out


def _sql_texts(r: Resource) -> list[tuple[str, str]]:
    """(where, SQL text) the resource carries in clear."""
    if r.type == COMMAND:
        stdin = r.get("stdin")
        return [("stdin", stdin)] if isinstance(stdin, str) and "ROLE" in stdin.upper() else []
    out = []
    for i, up in enumerate(as_list(r.get("uploads"))):
        up = as_dict(up)
        path, content = up.get("file"), up.get("content")
        if isinstance(path, str) and path.endswith((".sql", ".psql")) and isinstance(content, str):
            out.append((f"uploads[{i}] {path}", content))
    return out


_GRANT_ROLE = re.compile(r"\bGRANT\s+ROLES?\s+(.+?)\s+TO\s+([^;]+?)\s*(?:;|$)", re.IGNORECASE | re.DOTALL)
_NEO4J_ADMIN_ROLES = frozenset({"admin"})
#: The operators' Neo4j login, the only one that may hold ``admin`` (components.render.neo4j.NEO4J_OPERATOR_LOGINS;
#: the pack stays free of component imports).
NEO4J_OPERATOR_LOGINS = frozenset({"admin_user"})


def cypher_findings(cypher: str) -> list[str]:
    """What in a Neo4j bootstrap gives a login other than the operators' (:data:`NEO4J_OPERATOR_LOGINS`) the
    ``admin`` role (one message per login)."""
    text = re.sub(r"//[^\n]*", "", cypher)
    out = []
    for m in _GRANT_ROLE.finditer(text):
        roles = {r.strip().strip("`").lower() for r in m.group(1).split(",")}
        users = [u.strip().strip("`") for u in m.group(2).split(",")]
        for user in users:
            if roles & _NEO4J_ADMIN_ROLES and user not in NEO4J_OPERATOR_LOGINS:
                out.append(f"login {user} is granted the Neo4j role admin ({' '.join(m.group(0).split())})")
    return out


def _cypher_texts(r: Resource) -> list[tuple[str, str]]:
    """(where, Cypher text) a ConfigMap or an EC2 instance's cloud-init carries in clear."""
    if r.type == K8S_CONFIGMAP:
        data = as_dict(r.get("data"))
        return [(f"data.{k}", v) for k, v in data.items() if k.endswith(".cypher") and isinstance(v, str)]
    user_data = r.get("userData")
    if not isinstance(user_data, str) or not user_data.startswith("#cloud-config"):
        return []
    try:
        doc = yaml.safe_load(user_data)
    except yaml.YAMLError:
        return []
    files = as_list(doc.get("write_files")) if isinstance(doc, dict) else []
    return [(f"userData {f['path']}", f["content"]) for f in map(as_dict, files)
            if str(f.get("path", "")).endswith(".cypher") and isinstance(f.get("content"), str)]


def _access_is_admin(access: str) -> bool:
    tokens = access.split()
    if "+@admin" in tokens or "+@dangerous" in tokens:
        return True
    return ("+@all" in tokens or "allcommands" in tokens) and "-@dangerous" not in tokens


@resource_policy(
    name="db-login-least-privilege", concern=CONCERN, level=MANDATORY,
    types=(COMMAND, DOCKER_CONTAINER, ELASTICACHE_USER, K8S_CONFIGMAP, EC2_INSTANCE),
    requirements=("gap:issue-17-least-privilege", "CIS PostgreSQL 4.x"),
    description="No application login has superuser or owner rights: PostgreSQL logins get no SUPERUSER/CREATEROLE/"
                "CREATEDB/REPLICATION/BYPASSRLS, no rds_superuser and own nothing; Valkey users other than "
                "'default' get no admin or dangerous commands; Neo4j logins other than admin_user are never granted "
                "the admin role.",
    remediation="Give the login membership of a NOLOGIN group role (components/render/postgres_roles.py) and let the "
                "group (migration_role) own the schema; for Valkey, '-@dangerous' in the access string; for Neo4j, "
                "grant reader or editor (components/render/neo4j.py NEO4J_USERS).",
    severity="high",
)
def db_login_least_privilege(r: Resource) -> Iterator[str]:
    if r.type == ELASTICACHE_USER:
        name, access = r.get("userName"), r.get("accessString")
        if isinstance(name, str) and name != "default" and isinstance(access, str) and _access_is_admin(access):
            yield (f"ElastiCache user {name} on {r.label} may run admin/dangerous commands ({access!r}). "
                   "Add -@dangerous or list the command categories it needs.")
        return
    if r.type in (K8S_CONFIGMAP, EC2_INSTANCE):
        for where, cypher in _cypher_texts(r):
            for finding in cypher_findings(cypher):
                yield f"{where} of {r.label}: {finding}. Grant reader or editor; only admin_user is admin."
        return
    for where, sql in _sql_texts(r):
        for finding in sql_findings(sql):
            yield f"{where} of {r.label}: {finding}. Give the login membership of a NOLOGIN group role instead."


def _reason(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    v = value.strip()
    return v if len(v) >= MIN_REASON_CHARS and v.lower() not in _NOT_REASONS else None


@stack_policy(
    name="secret-rotation-or-exemption", concern=CONCERN, level=MANDATORY, types=(SECRET, SECRET_ROTATION),
    requirements=("SecretsManager.1", "CKV2_AWS_57", "gap:issue-17-rotation"),
    description="Every Secrets Manager secret has a rotation schedule or a 'rotation-exempt' tag stating why not.",
    remediation="Create an aws.secretsmanager.SecretRotation for the secret, or tag it rotation-exempt=<reason: how "
                "it is rotated instead and why no schedule>.",
)
def secret_rotation_or_exemption(s: Stack) -> Iterator[tuple[str, str | None]]:
    secrets = s.of_type(SECRET)
    rotated: set[str] = set()
    for rot in s.of_type(SECRET_ROTATION):
        rotated |= {h.urn for h in s.referenced(rot, "secretId", rot.get("secretId"), secrets)}
    for sec in secrets:
        if sec.urn in rotated:
            continue
        tag = sec.tags.get(EXEMPT_TAG)
        if tag is UNKNOWN or _reason(tag):
            continue
        state = f"its {EXEMPT_TAG} tag {tag!r} gives no reason" if tag is not None else "it has no rotation"
        yield (f"secret {sec.label}: {state}. Create a SecretRotation or tag {EXEMPT_TAG}=<reason of at least "
               f"{MIN_REASON_CHARS} characters>.", sec.urn)

"""Render ``neo4j.conf`` for one Neo4j 5 server of a cluster (pure functions, no Pulumi).

Neo4j 5 servers have no fixed roles; databases are hosted as primaries or secondaries. The
platform's "3 primaries + 2 secondaries" is therefore expressed as:

* every server: ``initial.dbms.default_primaries_count`` = primaries,
  ``initial.dbms.default_secondaries_count`` = secondaries and
  ``dbms.cluster.minimum_initial_system_primaries_count`` = primaries (the system database forms
  once that many system primaries have bound);
* primaries: ``server.cluster.system_database_mode=PRIMARY`` and
  ``initial.server.mode_constraint=PRIMARY``;
* secondaries: ``server.cluster.system_database_mode=SECONDARY`` and
  ``initial.server.mode_constraint=SECONDARY``, so they never join a Raft group.

Discovery depends on the version (Operations Manual, "Cluster server discovery"):

* 5.0–5.22: discovery v1, ``dbms.cluster.discovery.endpoints`` on port 5000;
* 5.23–5.26: ``dbms.cluster.discovery.version=V2_ONLY`` and ``dbms.cluster.discovery.v2.endpoints``
  on the cluster port 6000 (v1 is deprecated in 5.23 and removed in 2025.01);
* 2025.01 and later (calendar versions): ``dbms.cluster.endpoints`` on port 6000.

``initial.*`` settings only apply at first start; later topology changes go through
``ALTER DATABASE`` / ``dbms.setDefaultAllocationNumbers``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

MemberRole = Literal["primary", "secondary"]
BoltTls = Literal["DISABLED", "OPTIONAL", "REQUIRED"]

PORTS: dict[str, int] = {
    "bolt": 7687, "http": 7474, "https": 7473, "discovery-v1": 5000, "cluster": 6000, "raft": 7000,
    "routing": 7688, "backup": 6362, "metrics": 2004,
}
_SIZE = re.compile(r"^\d+[kmgKMG]?$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
_VERSION = re.compile(r"^(\d+)\.(\d+)(\.\d+)?$")


def discovery_version(version: str) -> Literal["v1", "v2", "endpoints"]:
    """Which discovery settings a Neo4j version takes: ``v1`` (5.0–5.22), ``v2`` (5.23–5.26) or
    ``endpoints`` (2025.01+, ``dbms.cluster.endpoints``)."""
    m = _VERSION.match(version)
    if not m:
        raise ValueError(f"version {version!r} is not a Neo4j version such as 5.26.12")
    major, minor = int(m.group(1)), int(m.group(2))
    if major >= 2025:
        return "endpoints"
    if major != 5:
        raise ValueError(f"version {version!r}: only Neo4j 5.x and 2025.x+ are supported")
    return "v2" if minor >= 23 else "v1"


def discovery_port(version: str) -> int:
    """The port the discovery endpoints name: 5000 on v1, 6000 (cluster port) afterwards."""
    return PORTS["discovery-v1"] if discovery_version(version) == "v1" else PORTS["cluster"]


def render_neo4j_conf(
    *,
    member_role: MemberRole,
    member_index: int,
    advertised_host: str,
    discovery_hosts: Sequence[str],
    primaries: int,
    secondaries: int,
    version: str = "5.26.12",
    heap_size: str = "8g",
    pagecache_size: str = "16g",
    backup_listen_address: str = "0.0.0.0:6362",
    metrics_endpoint: str = "0.0.0.0:2004",
    bolt_tls_level: BoltTls = "DISABLED",
    edition: Literal["enterprise", "community"] = "enterprise",
    data_directory: str | None = None,
    logs_directory: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """Render ``neo4j.conf`` of one server.

    ``discovery_hosts`` are the host names of all servers (primaries and secondaries, this one
    included), without ports. A single server (``primaries == 1`` and ``secondaries == 0``) gets no
    cluster settings (it also runs on Community edition). ``bolt_tls_level`` other than DISABLED
    turns on the ``bolt`` SSL policy (certificates under ``certificates/bolt``). ``extra`` is
    appended last and may not contain line breaks. ``edition="community"`` (one server only) leaves
    out the Enterprise-only online backup and metrics settings, which Community's strict config
    validation would reject.
    """
    if member_role not in ("primary", "secondary"):
        raise ValueError(f"member_role {member_role!r} is not allowed (primary, secondary)")
    if not 1 <= primaries <= 11:
        raise ValueError(f"primaries {primaries} is not allowed (1..11)")
    if not 0 <= secondaries <= 20:
        raise ValueError(f"secondaries {secondaries} is not allowed (0..20)")
    if member_role == "secondary" and secondaries == 0:
        raise ValueError("member_role 'secondary' needs secondaries >= 1")
    limit = primaries if member_role == "primary" else secondaries
    if not 1 <= member_index <= limit:
        raise ValueError(f"member_index {member_index} is not allowed (1..{limit} for {member_role})")
    for size in (heap_size, pagecache_size):
        if not _SIZE.match(size):
            raise ValueError(f"memory size {size!r} is not allowed (digits with k, m or g)")
    for host in (advertised_host, *discovery_hosts):
        if not _HOST.match(host):
            raise ValueError(f"host {host!r} is not a DNS name or IPv4 address")
    if bolt_tls_level not in ("DISABLED", "OPTIONAL", "REQUIRED"):
        raise ValueError(f"bolt_tls_level {bolt_tls_level!r} is not allowed (DISABLED, OPTIONAL, REQUIRED)")
    clustered = primaries + secondaries > 1
    if edition == "community" and clustered:
        raise ValueError("edition 'community' runs one server (primaries 1, secondaries 0)")
    if clustered and len(discovery_hosts) != primaries + secondaries:
        raise ValueError(f"discovery_hosts has {len(discovery_hosts)} hosts, expected {primaries + secondaries}")
    mode = "PRIMARY" if member_role == "primary" else "SECONDARY"

    lines: list[str] = [
        f"# neo4j.conf of graph {member_role}-{member_index} (rendered by data-platform; do not edit by hand)",
        "",
        "# Network",
        "server.default_listen_address=0.0.0.0",
        f"server.default_advertised_address={advertised_host}",
        f"server.bolt.listen_address=:{PORTS['bolt']}",
        f"server.bolt.advertised_address={advertised_host}:{PORTS['bolt']}",
        f"server.bolt.tls_level={bolt_tls_level}",
        f"server.http.listen_address=:{PORTS['http']}",
        f"server.http.advertised_address={advertised_host}:{PORTS['http']}",
        "server.https.enabled=false",
        "",
        "# Security",
        "dbms.security.auth_enabled=true",
        "",
        "# Memory",
        f"server.memory.heap.initial_size={heap_size}",
        f"server.memory.heap.max_size={heap_size}",
        f"server.memory.pagecache.size={pagecache_size}",
    ]
    if edition == "enterprise":
        lines += [
            "",
            "# Online backup (not authenticated: reachable only from the cluster's own network rules)",
            "server.backup.enabled=true",
            f"server.backup.listen_address={backup_listen_address}",
            "",
            "# Metrics",
            "server.metrics.enabled=true",
            "server.metrics.prometheus.enabled=true",
            f"server.metrics.prometheus.endpoint={metrics_endpoint}",
            "server.metrics.csv.enabled=false",
        ]
    if bolt_tls_level != "DISABLED":
        lines += [
            "",
            "# Bolt TLS (certificates under certificates/bolt)",
            "dbms.ssl.policy.bolt.enabled=true",
            "dbms.ssl.policy.bolt.base_directory=certificates/bolt",
            "dbms.ssl.policy.bolt.private_key=private.key",
            "dbms.ssl.policy.bolt.public_certificate=public.crt",
            "dbms.ssl.policy.bolt.client_auth=NONE",
        ]
    if data_directory or logs_directory:
        lines += ["", "# Directories"]
        if data_directory:
            lines.append(f"server.directories.data={data_directory}")
        if logs_directory:
            lines.append(f"server.directories.logs={logs_directory}")
    if clustered:
        dv = discovery_version(version)
        port = discovery_port(version)
        endpoints = ",".join(f"{h}:{port}" for h in discovery_hosts)
        lines += [
            "",
            f"# Cluster: {primaries} primaries + {secondaries} secondaries; this server is {mode}",
            f"server.cluster.system_database_mode={mode}",
            f"initial.server.mode_constraint={mode}",
            f"dbms.cluster.minimum_initial_system_primaries_count={primaries}",
            f"initial.dbms.default_primaries_count={primaries}",
            f"initial.dbms.default_secondaries_count={secondaries}",
            "dbms.cluster.discovery.resolver_type=LIST",
        ]
        if dv == "v1":
            lines += [
                f"dbms.cluster.discovery.endpoints={endpoints}",
                f"server.discovery.listen_address=:{PORTS['discovery-v1']}",
                f"server.discovery.advertised_address={advertised_host}:{PORTS['discovery-v1']}",
            ]
        elif dv == "v2":
            lines += ["dbms.cluster.discovery.version=V2_ONLY", f"dbms.cluster.discovery.v2.endpoints={endpoints}"]
        else:
            lines.append(f"dbms.cluster.endpoints={endpoints}")
        lines += [
            f"server.cluster.listen_address=:{PORTS['cluster']}",
            f"server.cluster.advertised_address={advertised_host}:{PORTS['cluster']}",
            f"server.cluster.raft.listen_address=:{PORTS['raft']}",
            f"server.cluster.raft.advertised_address={advertised_host}:{PORTS['raft']}",
            f"server.routing.listen_address=:{PORTS['routing']}",
            f"server.routing.advertised_address={advertised_host}:{PORTS['routing']}",
            "dbms.routing.enabled=true",
            "dbms.routing.default_router=SERVER",
            "initial.dbms.automatically_enable_free_servers=true",
        ]
    for key, value in (extra or {}).items():
        if any(c in f"{key}{value}" for c in "\r\n"):
            raise ValueError(f"extra setting {key!r}: line breaks are not allowed")
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


def parse_neo4j_conf(text: str) -> dict[str, str]:
    """``key=value`` lines of a neo4j.conf as a dict (comments and blanks skipped; tests use it)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


#: First and last line of the block of rendered settings inside the packaged neo4j.conf.
MERGE_BEGIN = "# >>> data-platform settings (dp-neo4j-conf)"
MERGE_END = "# <<< data-platform settings"


def render_conf_merge_script() -> str:
    """A script ``<script> <rendered settings> <neo4j.conf>`` that merges rendered settings into the
    neo4j.conf a package installed (EC2).

    The packaged file holds the layout the server needs (``server.directories.lib``, the JVM flags, log
    settings), so the rendered file is never installed over it. Appending it as is would repeat keys, which
    Neo4j 5's strict validation (on by default) refuses; so the script drops from the packaged file every key
    the rendered file sets (except ``server.jvm.additional``, which may repeat) and the block a previous run
    appended, then appends the rendered settings between :data:`MERGE_BEGIN` and :data:`MERGE_END`. Running
    it again with the same input gives the same file; owner and mode are kept. Needs bash, awk, coreutils."""
    return f"""#!/bin/bash
# Merge rendered settings into the packaged neo4j.conf (rendered by data-platform)
set -euo pipefail
src="$1"; conf="$2"
tmp="$(mktemp "$conf.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
awk -v begin='{MERGE_BEGIN}' -v end='{MERGE_END}' '
  function key(line) {{ sub(/^[ \\t]+/, "", line); sub(/[ \\t]*=.*$/, "", line); return line }}
  function setting(line) {{ return line !~ /^[ \\t]*(#|$)/ && index(line, "=") > 0 }}
  FNR == NR {{ if (setting($0)) ours[key($0)] = 1; next }}
  $0 == begin {{ skip = 1; next }}
  $0 == end {{ skip = 0; next }}
  skip {{ next }}
  setting($0) && (key($0) in ours) && key($0) != "server.jvm.additional" {{ next }}
  {{ print }}
' "$src" "$conf" > "$tmp"
{{ echo '{MERGE_BEGIN}'; cat "$src"; echo '{MERGE_END}'; }} >> "$tmp"
chmod --reference="$conf" "$tmp"
chown --reference="$conf" "$tmp"
mv -f "$tmp" "$conf"
"""


# ---- users and roles (Enterprise RBAC, issue 17) --------------------------------------------------

#: Login -> the built-in Neo4j 5 Enterprise role it is granted (Operations Manual, "Built-in roles and
#: privileges"): ``reader`` reads the graph, ``editor`` reads and writes data but adds no schema, ``admin``
#: manages users, roles and databases. ``readonly_user`` and ``app_user`` are the applications' logins and
#: are never ``admin``; ``admin_user`` is the operators' login (the ``neo4j`` user stays the bootstrap
#: identity). Community Edition has no roles: there every login can do everything.
NEO4J_USERS: Mapping[str, str] = {"readonly_user": "reader", "app_user": "editor", "admin_user": "admin"}
#: Logins of applications: never granted ``admin`` (policy ``db-login-least-privilege``).
NEO4J_APP_LOGINS: tuple[str, ...] = ("readonly_user", "app_user")
#: The one login that may hold ``admin`` (operators; the policy fails ``admin`` for any other login).
NEO4J_OPERATOR_LOGINS: frozenset[str] = frozenset({"admin_user"})
NEO4J_BUILTIN_ROLES: tuple[str, ...] = ("reader", "editor", "publisher", "architect", "admin")
_LOGIN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def password_parameter(user: str) -> str:
    """The Cypher parameter that carries ``user``'s password (``app_user`` -> ``app_user_password``)."""
    return f"{user}_password"


def render_neo4j_users_cypher(users: Mapping[str, str] = NEO4J_USERS) -> str:
    """The RBAC bootstrap, run against the ``system`` database as ``neo4j``: one ``CREATE USER ... IF NOT
    EXISTS`` per login and one ``GRANT ROLE`` of its built-in role. Passwords are Cypher parameters
    (``$app_user_password``), never literals, so the text is not secret. Re-running it changes nothing
    (``IF NOT EXISTS``; granting a role a user already has is a no-op)."""
    if not users:
        raise ValueError("at least one user")
    lines = ["// Neo4j users and roles (rendered by data-platform). Run on the system database as neo4j;",
             "// passwords are parameters set by the runner from Secrets Manager, never literals here."]
    for user, role in users.items():
        if not _LOGIN.match(user):
            raise ValueError(f"user {user!r}: lower-case letters, digits and _, starting with a letter")
        if role not in NEO4J_BUILTIN_ROLES:
            raise ValueError(f"role {role!r} of {user}: one of {', '.join(NEO4J_BUILTIN_ROLES)}")
        if role == "admin" and user not in NEO4J_OPERATOR_LOGINS:
            raise ValueError(f"{user} is an application login and is never admin")
        lines += [f"CREATE USER {user} IF NOT EXISTS SET PASSWORD ${password_parameter(user)} CHANGE NOT REQUIRED;",
                  f"GRANT ROLE {role} TO {user};"]
    return "\n".join(lines) + "\n"


def render_neo4j_users_script() -> str:
    """``dp-neo4j-users``: waits until Neo4j answers at ``$NEO4J_URI`` (up to ``$NEO4J_WAIT_SECONDS``, default
    1800), then runs the Cypher file ``$NEO4J_USERS_CYPHER`` on the ``system`` database as ``neo4j``.

    ``$NEO4J_AUTH_FILE`` holds the ``neo4j`` password (``neo4j/<password>`` as the image's NEO4J_AUTH file, or
    the bare password); ``$NEO4J_USERS_DIR`` holds one file per login, named after it, with its password.
    Passwords travel in the environment (``NEO4J_PASSWORD``) and on cypher-shell's standard input
    (``:param``), never on a command line; a password that is not letters and digits is refused (it is put
    in a Cypher string literal)."""
    return """#!/bin/bash
# Create the Neo4j users and grant their roles (rendered by data-platform)
set -euo pipefail
: "${NEO4J_URI:?}" "${NEO4J_AUTH_FILE:?}" "${NEO4J_USERS_DIR:?}" "${NEO4J_USERS_CYPHER:?}"
export NEO4J_USERNAME=neo4j
NEO4J_PASSWORD="$(cat "$NEO4J_AUTH_FILE")"
export NEO4J_PASSWORD="${NEO4J_PASSWORD#neo4j/}"
deadline=$(( $(date +%s) + ${NEO4J_WAIT_SECONDS:-1800} ))
until cypher-shell -a "$NEO4J_URI" -d system --non-interactive "SHOW CURRENT USER" >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$deadline" ] || { echo "Neo4j at $NEO4J_URI did not answer in time" >&2; exit 1; }
  sleep 10
done
params=""
for f in "$NEO4J_USERS_DIR"/*; do
  user="$(basename "$f")"; pw="$(cat "$f")"
  [[ "$user" =~ ^[a-z][a-z0-9_]*$ ]] || { echo "bad login name $user" >&2; exit 1; }
  [[ "$pw" =~ ^[A-Za-z0-9]+$ ]] || { echo "the password of $user is not letters and digits" >&2; exit 1; }
  params="${params:+$params, }${user}_password: '$pw'"
done
{ echo ":param {$params}"; cat "$NEO4J_USERS_CYPHER"; } \\
  | cypher-shell -a "$NEO4J_URI" -d system --non-interactive --fail-fast
echo "Neo4j users and roles applied"
"""

"""Backup scripts and systemd units as rendered text (pure functions, no Pulumi).

The scripts take their destination from the environment, so the same text serves the EKS CronJobs
(env on the container) and the EC2 systemd units (``EnvironmentFile``):

``BACKUP_BUCKET``        bucket name
``BACKUP_PREFIX``        key prefix (e.g. ``neo4j`` or ``qdrant/peer-1``)
``BACKUP_KMS_KEY_ARN``   the bucket's KMS key; every upload is SSE-KMS with it

Neo4j: ``neo4j-admin database backup`` (online, from the servers' backup port 6362; secondaries
are listed first so the primaries' Raft work is not disturbed) into a local directory, then
``aws s3 cp --recursive --sse aws:kms``. Qdrant: a collection snapshot is local to the peer that
takes it (it holds that peer's shards), so each peer is snapshotted: list collections, POST
``/collections/<c>/snapshots?wait=true``, download, upload to S3, delete the local snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

_CRON_DAILY = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* \*$")
_CRON_HOURLY_STEP = re.compile(r"^(\d{1,2}) \*/(\d{1,2}) \* \* \*$")

STAMP = 'STAMP="$(date -u +%Y%m%dT%H%M%SZ)"'


def neo4j_backup_addresses(hosts: Sequence[str], port: int = 6362) -> str:
    """``--from`` value: ``host:6362`` for each host, in the order given."""
    return ",".join(f"{h}:{port}" for h in hosts)


def _clean(directory: str) -> str:
    """Shell that empties a scratch directory that outlives a run (a persistent claim, the data volume):
    what a failed run left would otherwise pile up. Runs never overlap (CronJob ``Forbid``, one timer)."""
    return (f'mkdir -p "{directory}" && find "{directory}" -mindepth 1 -maxdepth 1 ! -name lost+found '
            "-exec rm -rf -- {} +")


def render_neo4j_backup_step(from_addresses: str, to_root: str = "/backups") -> str:
    """Shell that empties ``<to_root>``, runs the online backup of every database into
    ``<to_root>/<stamp>`` and writes the stamp to ``<to_root>/STAMP`` (the upload step reads it)."""
    return "\n".join([
        "set -euo pipefail",
        _clean(to_root),
        STAMP,
        f'mkdir -p "{to_root}/$STAMP"',
        f'neo4j-admin database backup --from="{from_addresses}" --to-path="{to_root}/$STAMP" '
        "--include-metadata=all --type=AUTO '*'",
        f'echo "$STAMP" > "{to_root}/STAMP"',
    ]) + "\n"


def render_s3_upload_step(from_root: str = "/backups") -> str:
    """Shell that uploads ``<from_root>/<stamp>`` to ``s3://$BACKUP_BUCKET/$BACKUP_PREFIX/<stamp>/``
    with SSE-KMS and removes the local copy."""
    return "\n".join([
        "set -euo pipefail",
        ': "${BACKUP_BUCKET:?}" "${BACKUP_PREFIX:?}" "${BACKUP_KMS_KEY_ARN:?}"',
        f'STAMP="$(cat "{from_root}/STAMP")"',
        f'aws s3 cp --recursive --only-show-errors "{from_root}/$STAMP" '
        '"s3://$BACKUP_BUCKET/$BACKUP_PREFIX/$STAMP/" --sse aws:kms --sse-kms-key-id "$BACKUP_KMS_KEY_ARN"',
        f'rm -rf "{from_root}/$STAMP" "{from_root}/STAMP"',
    ]) + "\n"


def render_neo4j_backup_script(from_addresses: str, to_root: str = "/var/lib/neo4j/backups") -> str:
    """The EC2 script: backup then upload (``/usr/local/bin/neo4j-backup``)."""
    return ("#!/bin/bash\n# Neo4j online backup to S3 (rendered by data-platform)\n"
            + render_neo4j_backup_step(from_addresses, to_root)
            + render_s3_upload_step(to_root).replace("set -euo pipefail\n", ""))


def render_qdrant_snapshot_script() -> str:
    """Snapshot every collection on every peer in ``QDRANT_PEER_URLS`` (space separated, e.g.
    ``http://127.0.0.1:6333``) and upload each to
    ``s3://$BACKUP_BUCKET/$BACKUP_PREFIX/<stamp>/<peer n>/<collection>/<snapshot>`` with SSE-KMS.
    The API key comes from the file ``QDRANT_API_KEY_FILE`` when set (EKS: a Secret volume), else from
    ``QDRANT__SERVICE__API_KEY`` (EC2: a root-only environment file); it is sent as the ``api-key``
    header. Downloads go to
    ``SNAPSHOT_WORK_DIR`` (emptied first). The peer's copy is deleted whether or not the upload worked (it
    sits on the peer's data volume); a failed snapshot fails the run after the others are done.
    Needs curl, grep, sed, find and the AWS CLI (no jq)."""
    return r'''#!/bin/bash
# Qdrant snapshots to S3 (rendered by data-platform)
set -euo pipefail
if [ -n "${QDRANT_API_KEY_FILE:-}" ]; then QDRANT__SERVICE__API_KEY="$(cat "$QDRANT_API_KEY_FILE")"; fi
: "${QDRANT_PEER_URLS:?}" "${QDRANT__SERVICE__API_KEY:?}"
: "${BACKUP_BUCKET:?}" "${BACKUP_PREFIX:?}" "${BACKUP_KMS_KEY_ARN:?}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
WORK="${SNAPSHOT_WORK_DIR:-/tmp/qdrant-snapshots}"
''' + _clean("$WORK") + r'''
hdr=(-H "api-key: ${QDRANT__SERVICE__API_KEY}")
names() { grep -o '"name":"[^"]*"' | sed -e 's/^"name":"//' -e 's/"$//'; }
failed=0
n=0
for url in $QDRANT_PEER_URLS; do
  n=$((n + 1))
  for c in $(curl -fsS "${hdr[@]}" "$url/collections" | names); do
    snap="$(curl -fsS -X POST "${hdr[@]}" "$url/collections/$c/snapshots?wait=true" | names | head -n1)"
    if ! { curl -fsS "${hdr[@]}" -o "$WORK/$snap" "$url/collections/$c/snapshots/$snap" &&
           aws s3 cp --only-show-errors "$WORK/$snap" "s3://$BACKUP_BUCKET/$BACKUP_PREFIX/$STAMP/peer-$n/$c/$snap" \
             --sse aws:kms --sse-kms-key-id "$BACKUP_KMS_KEY_ARN"; }; then
      echo "snapshot $snap of $c on $url was not uploaded" >&2
      failed=1
    fi
    rm -f "$WORK/$snap"
    curl -fsS -X DELETE "${hdr[@]}" "$url/collections/$c/snapshots/$snap?wait=true" >/dev/null || failed=1
  done
done
exit "$failed"
'''


def cron_to_on_calendar(cron: str) -> str:
    """systemd ``OnCalendar`` for the cron forms the platform uses: ``M H * * *`` (daily) and
    ``M */N * * *`` (every N hours). Others raise ``ValueError``."""
    m = _CRON_DAILY.match(cron.strip())
    if m and int(m.group(1)) < 60 and int(m.group(2)) < 24:
        return f"*-*-* {int(m.group(2)):02d}:{int(m.group(1)):02d}:00"
    m = _CRON_HOURLY_STEP.match(cron.strip())
    if m and int(m.group(1)) < 60 and 1 <= int(m.group(2)) <= 24:
        return f"*-*-* 00/{int(m.group(2))}:{int(m.group(1)):02d}:00"
    raise ValueError(f"cron {cron!r} is not allowed ('M H * * *' or 'M */N * * *')")


def render_systemd_units(name: str, *, description: str, exec_start: str, on_calendar: str,
                         user: str, environment_files: Sequence[str]) -> dict[str, str]:
    """``{<name>.service, <name>.timer}``: a oneshot service and a persistent timer."""
    service = "\n".join([
        "[Unit]",
        f"Description={description}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        f"User={user}",
        *(f"EnvironmentFile={f}" for f in environment_files),
        f"ExecStart={exec_start}",
        "Nice=10",
        "",
    ])
    timer = "\n".join([
        "[Unit]",
        f"Description=Schedule of {name}",
        "",
        "[Timer]",
        f"OnCalendar={on_calendar}",
        "Persistent=true",
        "RandomizedDelaySec=300",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ])
    return {f"{name}.service": service, f"{name}.timer": timer}


class _BlockDumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as literal blocks (readable user data)."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_BlockDumper.add_representer(str, _str_representer)


def render_cloud_config(doc: Mapping[str, Any]) -> str:
    """``#cloud-config`` user data from a dict (safe YAML, multi-line files as literal blocks)."""
    body = yaml.dump(dict(doc), Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, width=1000)
    return "#cloud-config\n" + body

"""The stack's topology for the review: regions, AZs, stores, members and roles, replication links,
backups, as plain JSON (the report's ``topology`` key) and as a Mermaid flowchart.

The topology is the program's own (:func:`infra.topology.build_topology` on the stack's validated
settings, both already imported by the program run); each store also gets the number of resources
the program realized under the component of the same name. :func:`mermaid` draws it: one subgraph
per region, one per AZ inside it, members as nodes labelled with their role, replication links
``==>`` (sync), ``-->`` (async), ``-.->`` (cross-region) and ``---`` (cluster peers), and each
store's backup destination.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from review.program import StackConfig

ROLE_LABEL = {
    "primary": "writer",
    "standby": "Multi-AZ standby",
    "replica": "read replica",
    "dr-replica": "DR replica",
    "shard-primary": "shard primary",
    "shard-replica": "shard replica",
    "graph-primary": "Raft primary",
    "graph-secondary": "secondary",
    "peer": "peer",
}
DESTINATION_LABEL = {
    "rds-automated": "RDS automated backups",
    "elasticache-snapshots": "ElastiCache snapshots",
    "s3": "S3 backup bucket",
}


def topology_json(config: StackConfig, resources: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any] | None:
    """The report's ``topology``; ``None`` when the stack's settings cannot be built (the program
    would have failed first) or the project has no ``infra`` package."""
    try:
        from infra.settings import load_settings
        from infra.topology import build_topology
    except ImportError:
        return None
    try:
        s = load_settings(config.stack, config.config, config.stack_file)
    except Exception:  # a stack the program rejected is reported by the program run
        return None
    topo = build_topology(s)
    aws = s.target == "aws"
    dr_used = aws and s.dr_region is not None and (s.postgres.dr_replica or s.backups.cross_region)
    counts = _component_counts(resources)
    return {
        "target": s.target,
        "region": s.region if aws else "local",
        "dr_region": s.dr_region if dr_used else None,
        "azs": list(s.azs) if aws else [f"zone-{i + 1}" for i in range(3)],
        "dr_azs": list(s.dr_azs) if dr_used and s.postgres.dr_replica else [],
        "backup_replication": bool(dr_used and s.backups.cross_region),
        "stores": [
            {
                "name": st.name,
                "engine": st.engine,
                "version": st.version,
                "placement": st.placement,
                "resources": counts.get(st.name, 0),
                "members": [{"id": m.id, "role": m.role, "zone": m.zone, "site": m.site, "shard": m.shard}
                            for m in st.members],
                "links": [{"source": lk.source, "target": lk.target, "mode": lk.mode,
                           "cross_region": lk.cross_region} for lk in st.links],
                "backup": {"schedule": st.backup.schedule, "retention_days": st.backup.retention_days,
                           "destination": st.backup.destination, "rpo_hours": st.backup.rpo_hours},
            }
            for st in topo.stores
        ],
    }


def _component_counts(resources: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    by_urn = {r["urn"]: r for r in resources}
    counts: dict[str, int] = {}
    for r in resources:
        node = r
        while node.get("parent") in by_urn:
            node = by_urn[node["parent"]]
        counts[node["name"]] = counts.get(node["name"], 0) + 1
    return counts


def _id(*parts: str) -> str:
    """A Mermaid node id: letters, digits and ``_`` only (``end`` and friends never appear alone)."""
    return "n_" + "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in parts)


def _label(text: str) -> str:
    """A quoted Mermaid label: double quotes and markup characters become entity codes."""
    return '"' + text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") + '"'


def mermaid(topology: Mapping[str, Any] | None) -> str:
    """A Mermaid ``flowchart`` of the topology (GitHub renders it in a ```` ```mermaid ```` block)."""
    out: list[str] = ["flowchart LR"]
    if not topology:
        return 'flowchart LR\n  none["no topology: the stack has no infra settings"]\n'
    sites = {"primary": (topology["region"], topology["azs"])}
    if topology.get("dr_region"):
        sites["dr"] = (topology["dr_region"], topology.get("dr_azs") or [])
    stores = topology["stores"]
    for site, (region, azs) in sites.items():
        members = [(st, m) for st in stores for m in st["members"] if m["site"] == site]
        backups_here = site == "dr" and topology.get("backup_replication")
        if not members and not backups_here:
            continue
        region_label = f"{region} (DR region)" if site == "dr" else (
            f"{region} (primary region)" if topology["target"] == "aws" else "local Docker host")
        out.append(f"  subgraph {_id('region', site)}[{_label(region_label)}]")
        out.append("    direction TB")
        zones = sorted({m["zone"] for _, m in members})
        for zone in zones:
            az = azs[zone] if zone < len(azs) else f"zone {zone + 1}"
            out.append(f"    subgraph {_id('az', site, str(zone))}[{_label(az)}]")
            for _st, m in members:
                if m["zone"] == zone:
                    node = _label(f"{m['id']} · {ROLE_LABEL.get(m['role'], m['role'])}")
                    shape = f"[({node})]" if m["role"] in ("primary", "shard-primary", "graph-primary") else f"[{node}]"
                    out.append(f"      {_id(m['id'])}{shape}")
            out.append("    end")
        if site == "primary":
            for st in stores:
                b = st["backup"]
                label = (f"{st['name']} backups: {DESTINATION_LABEL.get(b['destination'], b['destination'])}, "
                         f"{b['retention_days']} d, RPO {b['rpo_hours']:g} h")
                out.append(f"    {_id('backup', st['name'])}[/{_label(label)}/]")
        if backups_here:
            out.append(f"    {_id('backup', 'dr')}[/{_label('replicated backup buckets')}/]")
        out.append("  end")
    for st in stores:
        first = st["members"][0]["id"] if st["members"] else None
        for lk in st["links"]:
            if lk["cross_region"]:
                arrow = "-. cross-region async .->"
            elif lk["mode"] == "sync":
                arrow = "== sync ==>"
            elif lk["mode"] == "async":
                arrow = "-- async -->"
            else:
                arrow = "-- cluster ---"  # Raft / peer membership, no direction
            out.append(f"  {_id(lk['source'])} {arrow} {_id(lk['target'])}")
        if first is not None:
            out.append(f"  {_id(first)} -. backup .-> {_id('backup', st['name'])}")
    if topology.get("backup_replication"):
        for st in stores:
            out.append(f"  {_id('backup', st['name'])} -. replicated .-> {_id('backup', 'dr')}")
    return "\n".join(out) + "\n"


__all__ = ["mermaid", "topology_json"]

"""Render the review report (the JSON contract dict) as a terminal text view or a markdown PR comment.

Text looks like ``pulumi preview``: one line per resource in a parent/child tree (Type, Name,
Plan, Info), protected resources marked with a lock, policy violations right under the resource
they concern (mandatory in red), then the violations table, the cost tables, total vs budget and
the timings. ``rich`` is imported only here, and only for text.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from review.report import (
    STACK_TYPE,
    components_table,
    display_name,
    top_lines,
    unpriced_groups,
)

LOCK = "🔒"
MANDATORY_MARK = "✖"
ADVISORY_MARK = "⚠"
MESSAGE_WIDTH = 160
TOP_LINES = 5
"""Top cost lines in the compact view (``--details``: 10)."""
MARKDOWN_MANDATORY_ROWS = 100
"""Mandatory violations listed one by one in the PR comment (GitHub caps a comment at 65,536 characters)."""
"""Violation messages in the tree are cut to this many characters (the table has them in full)."""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def total_money(cost: Mapping[str, Any]) -> str:
    """The monthly total, or ``unknown`` with what could be priced: an unknown cost is never shown
    as if it were the stack's cost."""
    if cost.get("verdict") == "unknown":
        return f"unknown (≥ {money(cost['monthly_total'])} priced)"
    return money(cost["monthly_total"])


def _names(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def signed_money(value: float) -> str:
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}${abs(value):,.2f}"


def _one_line(text: str, width: int | None = None) -> str:
    flat = " ".join(text.split())
    if width is not None and len(flat) > width:
        return flat[: width - 1] + "…"
    return flat


def _resource_label(urn: str, types: Mapping[str, str]) -> str:
    if not urn or f"::{STACK_TYPE}::" in urn:
        return "(stack)"
    return f"{display_name(urn)} ({types.get(urn) or urn.split('::')[-2].rsplit('$', 1)[-1]})"


# ---------------------------------------------------------------------------------------------
# The preview-like tree (shared by text; plain rows, styled by the text renderer)
# ---------------------------------------------------------------------------------------------


class TreeRow:
    __slots__ = ("depth", "guide", "info", "kind", "level", "name", "protect", "type")

    def __init__(self, kind: str, guide: str, type_: str = "", name: str = "", *, protect: bool = False,
                 info: str = "", level: str = "", depth: int = 0) -> None:
        self.kind, self.guide, self.type, self.name = kind, guide, type_, name
        self.protect, self.info, self.level, self.depth = protect, info, level, depth


def _index(report: Mapping[str, Any]) -> tuple[dict[str | None, list[Mapping[str, Any]]],
                                                dict[str, list[Mapping[str, Any]]]]:
    """Resources by parent URN (None: the stack's top level, also for a parent not in the report) and
    violations by URN ("": the stack as a whole, also for a URN not in the report)."""
    resources: Sequence[Mapping[str, Any]] = report["resources"]
    urns = {r["urn"] for r in resources}
    children: dict[str | None, list[Mapping[str, Any]]] = defaultdict(list)
    for r in resources:
        parent = r.get("parent")
        children[parent if parent in urns else None].append(r)
    violations: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for v in report["policies"]["violations"]:
        violations[v["urn"] if v["urn"] in urns else ""].append(v)
    return children, violations


def tree_rows(report: Mapping[str, Any]) -> list[TreeRow]:
    """Rows of the resource tree: ``resource`` rows (the stack first) and ``violation`` rows."""
    children, violations = _index(report)
    for vs in violations.values():
        vs.sort(key=lambda v: (v["level"] != "mandatory", v["policy"]))

    rows: list[TreeRow] = []

    def info_for(vs: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
        m = sum(1 for v in vs if v["level"] == "mandatory")
        a = len(vs) - m
        parts = ([f"{m} mandatory"] if m else []) + ([f"{a} advisory"] if a else [])
        return ", ".join(parts), "mandatory" if m else "advisory" if a else ""

    def add_violations(vs: Sequence[Mapping[str, Any]], prefix: str, depth: int) -> None:
        for v in vs:
            rows.append(TreeRow("violation", prefix, v["policy"], _one_line(v["message"], MESSAGE_WIDTH),
                                level=v["level"], depth=depth))

    def walk(node: Mapping[str, Any], prefix: str, last: bool, depth: int) -> None:
        kids = children.get(node["urn"], [])
        info, level = info_for(violations.get(node["urn"], []))
        rows.append(TreeRow("resource", prefix + ("└─ " if last else "├─ "), node["type"], node["name"],
                            protect=bool(node.get("protect")), info=info, level=level, depth=depth))
        inner = prefix + ("   " if last else "│  ")
        add_violations(violations.get(node["urn"], []), inner + ("│  " if kids else "   "), depth + 1)
        for i, kid in enumerate(kids):
            walk(kid, inner, i == len(kids) - 1, depth + 1)

    top = children.get(None, [])
    stack_vs = violations.get("", [])
    info, level = info_for(stack_vs)
    rows.append(TreeRow("resource", "", STACK_TYPE, f"{report['project']}-{report['stack']}", info=info,
                        level=level))
    add_violations(stack_vs, "│  " if top else "   ", 1)
    for i, r in enumerate(top):
        walk(r, "", i == len(top) - 1, 1)
    return rows


# ---------------------------------------------------------------------------------------------
# Text (rich)
# ---------------------------------------------------------------------------------------------


def short_type(type_: str) -> str:
    """``aws:rds/instance:Instance`` → ``aws:rds:Instance``; ``kubernetes:apps/v1:StatefulSet`` →
    ``kubernetes:apps:StatefulSet`` (the full token is in ``--details`` and the JSON)."""
    parts = type_.split(":")
    if len(parts) != 3:
        return type_
    return f"{parts[0]}:{parts[1].split('/')[0]}:{parts[2]}"


def _service(type_: str) -> str:
    """``aws:rds/instance:Instance`` → ``aws:rds`` (the grouping of the compact tree)."""
    parts = type_.split(":")
    return f"{parts[0]}:{parts[1].split('/')[0]}" if len(parts) == 3 else type_


class GroupRow:
    """A row of the compact tree: a component (``kind="component"``), one provider service of its
    children with the count of each type (``kind="service"``), or a violation (``kind="violation"``)."""

    __slots__ = ("count", "detail", "guide", "info", "kind", "level", "monthly", "name", "protect", "type")

    def __init__(self, kind: str, guide: str, name: str, type_: str = "", *, count: int = 0, detail: str = "",
                 info: str = "", level: str = "", protect: int = 0, monthly: float | None = None) -> None:
        self.kind, self.guide, self.name, self.type, self.count = kind, guide, name, type_, count
        self.detail, self.info, self.level, self.protect, self.monthly = detail, info, level, protect, monthly


def _info(vs: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    m = sum(1 for v in vs if v["level"] == "mandatory")
    a = len(vs) - m
    parts = ([f"{m} mandatory"] if m else []) + ([f"{a} advisory"] if a else [])
    return ", ".join(parts), "mandatory" if m else "advisory" if a else ""


def grouped_rows(report: Mapping[str, Any]) -> list[GroupRow]:
    """The compact tree: the stack, then each top-level resource (a component) with its descendants
    grouped by provider service (``aws:s3``: ``Bucket ×10, BucketPolicy ×10, …``; the name when a type
    has one resource there). Mandatory violations are listed one by one under their
    component, advisory ones once per policy with a count."""
    children, violations = _index(report)
    by_component = report["cost"].get("by_component", {})

    def descendants(urn: str) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        stack = list(children.get(urn, []))
        while stack:
            r = stack.pop()
            out.append(r)
            stack.extend(children.get(r["urn"], []))
        return out

    def violation_rows(vs: Sequence[Mapping[str, Any]], guide: str) -> list[GroupRow]:
        rows: list[GroupRow] = []
        for v in sorted((v for v in vs if v["level"] == "mandatory"), key=lambda v: (v["policy"], v["urn"])):
            label = display_name(v["urn"]) if v["urn"] else ""
            rows.append(GroupRow("violation", guide, v["policy"], level="mandatory", count=1,
                                 detail=(f"{label}: " if label else "") + _one_line(v["message"])))
        advisory: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for v in vs:
            if v["level"] != "mandatory":
                advisory[v["policy"]].append(v)
        for policy, group in sorted(advisory.items()):
            first = sorted(group, key=lambda v: v["urn"])[0]
            label = display_name(first["urn"]) if first["urn"] else ""
            more = f" (and {len(group) - 1} more)" if len(group) > 1 else ""
            rows.append(GroupRow("violation", guide, policy, level="advisory", count=len(group),
                                 detail=(f"{label}{more}: " if label else "") + _one_line(first["message"])))
        return rows

    rows: list[GroupRow] = []
    top = children.get(None, [])
    info, level = _info(violations.get("", []))
    rows.append(GroupRow("component", "", f"{report['project']}-{report['stack']}", STACK_TYPE,
                         count=len(report["resources"]), info=info, level=level,
                         monthly=report["cost"].get("monthly_total")))
    rows.extend(violation_rows(violations.get("", []), "│  " if top else "   "))
    for i, comp in enumerate(top):
        last = i == len(top) - 1
        desc = descendants(comp["urn"])
        comp_vs = [v for r in (comp, *desc) for v in violations.get(r["urn"], [])]
        info, level = _info(comp_vs)
        rows.append(GroupRow("component", "└─ " if last else "├─ ", comp["name"], comp["type"], count=1 + len(desc),
                             info=info, level=level, monthly=by_component.get(comp["urn"]),
                             protect=sum(1 for r in (comp, *desc) if r.get("protect"))))
        inner = "   " if last else "│  "
        services: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for r in desc:
            services[_service(r["type"])].append(r)
        vrows = violation_rows(comp_vs, inner + ("│  " if services else "   "))
        rows.extend(vrows)
        ordered = sorted(services.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        for j, (service, members) in enumerate(ordered):
            types: dict[str, list[str]] = defaultdict(list)
            for r in members:
                types[r["type"].split(":")[-1]].append(r["name"])
            parts = []
            for t, names in sorted(types.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                parts.append(f"{t} ({names[0]})" if len(names) == 1 else f"{t} ×{len(names)}")
            svc_vs = [v for r in members for v in violations.get(r["urn"], [])]
            info, level = _info(svc_vs)
            rows.append(GroupRow("service", inner + ("└─ " if j == len(ordered) - 1 else "├─ "), service,
                                 count=len(members), detail=", ".join(parts), info=info, level=level,
                                 protect=sum(1 for r in members if r.get("protect"))))
    return rows


def _console(out: TextIO) -> Any:
    from rich.console import Console

    width = None if os.environ.get("COLUMNS") or getattr(out, "isatty", lambda: False)() else 120
    return Console(file=out, highlight=False, width=width, emoji=False)


def _summary_block(report: Mapping[str, Any], console: Any) -> None:
    """Stack, regions, resources by component, policy verdict, monthly total vs budget."""
    from rich.table import Table
    from rich.text import Text

    summary, pol, cost = report["summary"], report["policies"], report["cost"]
    topo = report.get("topology") or {}
    level_style = {"mandatory": "bold red", "advisory": "yellow"}
    console.print(Text(f"Review of stack {report['stack']} ({report['environment']}), offline preview",
                       style="bold"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="ellipsis")
    region = report["region"] if topo.get("target", "aws") == "aws" else "local Docker host (no cloud region)"
    if topo.get("dr_region"):
        region += f" (DR {topo['dr_region']})"
    if topo.get("azs") and topo.get("target") == "aws":
        region += f"; AZs {', '.join(topo['azs'])}"
    grid.add_row("Region", region)
    by_comp = component_counts(report)
    several = [(name, n) for name, n in by_comp if n > 1]
    single = len(by_comp) - len(several)
    comps = ", ".join(f"{name} {n}" for name, n in several) + (
        f"{', ' if several else ''}{single} more with one resource each" if single > 1 else
        "".join(f", {name} 1" for name, n in by_comp if n == 1))
    grid.add_row("Resources", f"{summary['resources']} ({summary['custom']} cloud resources, "
                              f"{summary['protected']} protected) in {len(by_comp)} components: {comps}")
    if pol["pack"] is None:
        grid.add_row("Policies", Text(f"not run ({pol.get('skipped') or 'skipped'})", style="yellow"))
    else:
        style = level_style["mandatory"] if pol["mandatory"] else "yellow" if pol["advisory"] else "green"
        grid.add_row("Policies", Text(f"{pol['mandatory']} mandatory, {pol['advisory']} advisory violation(s) "
                                      f"of {pol['policies']} policies (pack {pol['pack']})", style=style))
    grid.add_row("Cost", _budget_text(cost, "/month"))
    console.print(grid)


def component_counts(report: Mapping[str, Any]) -> list[tuple[str, int]]:
    """``(top-level resource name, resources under it including itself)``, largest first."""
    by_urn = {r["urn"]: r for r in report["resources"]}
    counts: dict[str, int] = defaultdict(int)
    for r in report["resources"]:
        node = r
        while node.get("parent") in by_urn:
            node = by_urn[node["parent"]]
        counts[node["name"]] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _budget_text(cost: Mapping[str, Any], suffix: str = "") -> Any:
    """The total (``suffix`` after a known one) and how it stands against the budget."""
    from rich.text import Text

    budget = cost.get("budget")
    unknown = cost.get("verdict") == "unknown"
    line = Text(total_money(cost) + ("" if unknown else suffix), style="bold red" if unknown else "bold")
    if cost.get("verdict") == "unknown":
        against = f"the budget {money(budget)}" if budget is not None else "any budget"
        line.append(f": {len(cost['unpriced'])} line(s) unpriced, {against} cannot be checked", style="bold red")
    elif budget is None:
        line.append(" (no budget set)", style="dim")
    elif cost["over_budget"]:
        line.append(f" vs budget {money(budget)}: over by {money(cost['monthly_total'] - budget)}", style="bold red")
    else:
        line.append(f" vs budget {money(budget)}: within, {money(budget - cost['monthly_total'])} left",
                    style="green")
    return line


def _grouped_tree(report: Mapping[str, Any], console: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    level_style = {"mandatory": "bold red", "advisory": "yellow"}
    table = Table(box=None, padding=(0, 1), show_edge=False, pad_edge=False, expand=False,
                  title="Resources (grouped by component and service; --details lists each one)",
                  title_justify="left", title_style="bold")
    table.add_column("Component / service", no_wrap=True, overflow="ellipsis")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Monthly", justify="right", no_wrap=True)
    table.add_column("Resources", overflow="ellipsis", ratio=1)
    for r in grouped_rows(report):
        if r.kind == "violation":
            mark = MANDATORY_MARK if r.level == "mandatory" else ADVISORY_MARK
            label = Text(r.guide, style="dim")
            label.append(f"{mark} {r.name}", style=level_style[r.level])
            # One line: the policies table below has the message in full.
            table.add_row(label, str(r.count) if r.count > 1 else "", "",
                          Text(r.detail, style=level_style[r.level] if r.level == "mandatory" else "",
                               no_wrap=True, overflow="ellipsis"))
            continue
        label = Text(r.guide, style="dim")
        if r.kind == "component":
            label.append(r.name, style="bold")
            detail = Text(short_type(r.type), style="dim")
            monthly = money(r.monthly) if r.monthly is not None else ""
        else:
            label.append(r.name)
            detail = Text(r.detail)
            monthly = ""
        if r.protect:
            detail.append(f"  {LOCK}{r.protect}", style="dim")
        if r.info:
            detail.append(f"  {MANDATORY_MARK if r.level == 'mandatory' else ADVISORY_MARK} {r.info}",
                          style=level_style.get(r.level, ""))
        table.add_row(label, str(r.count), monthly, detail)
    console.print(table)


def render_text(report: Mapping[str, Any], out: TextIO, *, details: bool = False) -> None:
    """The terminal view: the summary first, the resources (grouped; ``details``: the full
    preview-like tree, one line per resource), policies, cost; the verdict and exit code last."""
    console = _console(out)
    _summary_block(report, console)
    console.print()
    if not details:
        _grouped_tree(report, console)
        console.print()
    else:
        _full_tree(report, console)

    _render_rest(report, console, details=details)


def _full_tree(report: Mapping[str, Any], console: Any) -> None:
    """The preview-like tree: one line per resource, its violations under it (``--details``)."""
    from rich.cells import cell_len
    from rich.text import Text

    level_style = {"mandatory": "bold red", "advisory": "yellow"}
    rows = tree_rows(report)
    res_rows = [r for r in rows if r.kind == "resource"]
    type_w = max(cell_len(r.guide + r.type) for r in res_rows) + 2
    name_w = max(cell_len(r.name) + (cell_len(LOCK) + 1 if r.protect else 0) for r in res_rows) + 2
    summary = report["summary"]
    console.print(Text(f"Previewing stack {report['stack']} ({report['environment']}, {report['region']}) "
                       f"offline: {_count(summary['resources'], 'resource')}", style="bold"))
    console.print()
    tree = Text(no_wrap=True, overflow="ignore")
    tree.append(f"     {'Type':<{type_w}}{'Name':<{name_w}}{'Plan':<10}Info\n", style="bold")
    for r in rows:
        if r.kind == "resource":
            tree.append(" +   ", style="green")
            tree.append(r.guide, style="dim")
            tree.append(r.type + " " * (type_w - cell_len(r.guide + r.type)))
            name = r.name + (f" {LOCK}" if r.protect else "")
            tree.append(name + " " * (name_w - cell_len(name)))
            if r.info:
                tree.append(f"{'create':<10}", style="green")
                tree.append(r.info, style=level_style.get(r.level, ""))
            else:
                tree.append("create", style="green")
        else:
            mark = MANDATORY_MARK if r.level == "mandatory" else ADVISORY_MARK
            tree.append("     ")
            tree.append(r.guide, style="dim")
            tree.append(f"{mark} {r.level} ", style=level_style[r.level])
            tree.append(f"[{r.type}] ", style="bold")
            tree.append(r.name, style=level_style[r.level] if r.level == "mandatory" else "")
        tree.append("\n")
    console.print(tree, soft_wrap=True, end="")
    console.print()

def _render_rest(report: Mapping[str, Any], console: Any, *, details: bool) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    level_style = {"mandatory": "bold red", "advisory": "yellow"}
    types = {r["urn"]: r["type"] for r in report["resources"]}

    def label(urn: str) -> str:
        return _resource_label(urn, types) if details else display_name(urn)

    # -- violations -----------------------------------------------------------------------------
    pol = report["policies"]
    if pol["pack"] is None:
        console.print(Text(f"Policies: not run ({pol.get('skipped') or 'skipped'})", style="yellow"))
    else:
        title = (f"Policies: pack {pol['pack']} ({pol['policies']} policies): "
                 f"{pol['mandatory']} mandatory, {pol['advisory']} advisory")
        groups = violation_groups(report)
        if groups:
            # One row per policy (each violation is in the tree, under its resource).
            table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, expand=True)
            table.add_column("Level", no_wrap=True, min_width=9)
            table.add_column("Policy", no_wrap=True, style="bold", min_width=max(len(g["policy"]) for g in groups))
            table.add_column("Count", justify="right", no_wrap=True, min_width=5)
            table.add_column("Resource (first)", overflow="ellipsis", ratio=1)
            table.add_column("Message (first)", overflow="ellipsis", ratio=3)
            for g in groups:
                table.add_row(Text(g["level"], style=level_style[g["level"]]), g["policy"], str(g["count"]),
                              label(g["urn"]), _one_line(g["message"]))
            console.print(table)
        else:
            console.print(Text(title, style="green"))
        exempted = exempted_groups(report)
        if exempted:
            etable = Table(title=f"Exempted by the stack file: {sum(g['count'] for g in exempted)} advisory "
                                 "finding(s), each with its reason", title_justify="left", box=box.SIMPLE_HEAD,
                           expand=True)
            etable.add_column("Policy", no_wrap=True, style="bold", min_width=max(len(g["policy"]) for g in exempted))
            etable.add_column("Count", justify="right", no_wrap=True, min_width=5)
            etable.add_column("Resource (first)", overflow="fold", ratio=1)
            etable.add_column("Reason", overflow="fold", ratio=3)
            for g in exempted:
                etable.add_row(g["policy"], str(g["count"]), _resource_label(g["urn"], types), g["reason"])
            console.print(etable)
    console.print()

    # -- cost -------------------------------------------------------------------------------------
    cost = report["cost"]
    ctable = Table(title=f"Cost ({cost['currency']}/month, {cost['region']}, {cost.get('hours_per_month', 730)} h)",
                   title_justify="left", box=box.SIMPLE_HEAD, show_footer=True)
    ctable.add_column("Component", footer="total", no_wrap=True)
    ctable.add_column("Type", no_wrap=True, style="dim")
    ctable.add_column("Monthly", justify="right", footer=total_money(cost), no_wrap=True)
    ctable.add_column("Share", justify="right", no_wrap=True)
    for row in components_table(report):
        ctable.add_row(row["name"], row["type"], money(row["monthly"]), f"{row['share']:.0%}")
    if details:  # the compact tree has each component's monthly cost already
        console.print(ctable)

    lines = top_lines(report, 10 if details else TOP_LINES)
    if lines:
        ltable = Table(title="Top cost lines" + ("" if details else f" (the {len(lines)} largest; --details: 10)"),
                       title_justify="left", box=box.SIMPLE_HEAD)
        ltable.add_column("Resource", overflow="ellipsis", max_width=max(30, console.width // 3))
        ltable.add_column("Item", no_wrap=True)
        ltable.add_column("Monthly", justify="right", no_wrap=True)
        ltable.add_column("Basis", overflow="ellipsis", ratio=1)
        for line in lines:
            ltable.add_row(label(line["urn"]), line.get("item") or "", money(line["monthly"]), line["basis"])
        console.print(ltable)

    unpriced = unpriced_groups(report)
    if unpriced:
        utable = Table(title=f"Unpriced: {len(cost['unpriced'])} line(s), so the monthly cost is UNKNOWN",
                       title_justify="left", title_style="bold red", box=box.SIMPLE_HEAD, expand=True)
        utable.add_column("Type", overflow="ellipsis", ratio=1)
        utable.add_column("Resources", overflow="ellipsis", ratio=1)
        utable.add_column("Missing price", overflow="ellipsis", ratio=3)
        for type_, reason, names in unpriced:
            utable.add_row(type_, _names(names), _one_line(reason))
        console.print(utable)
    else:
        console.print(Text("Unpriced: none (every resource is priced or free with a reason)", style="dim"))
    console.print()

    total_line = Text("Monthly total ", style="bold")
    total_line.append_text(_budget_text(cost))
    console.print(total_line)

    # -- compare ------------------------------------------------------------------------------------
    cmp = report.get("compare")
    if cmp:
        dtable = Table(title=f"Compared to {cmp['stack']} (USD/month)", title_justify="left",
                       box=box.SIMPLE_HEAD)
        dtable.add_column("Component", no_wrap=True)
        dtable.add_column(cmp["columns"]["other"], justify="right", no_wrap=True)
        dtable.add_column(cmp["columns"]["this"], justify="right", no_wrap=True)
        dtable.add_column("Δ", justify="right", no_wrap=True)
        for row in cmp["rows"]:
            style = "bold" if row["component"] == "total" else ""
            dtable.add_row(row["component"], money(row["other"]), money(row["this"]),
                           signed_money(row["delta"]), style=style)
        console.print()
        console.print(dtable)

    # -- notes, timings, verdict ------------------------------------------------------------------
    if report.get("notes"):
        console.print()
        for note in report["notes"]:
            console.print(Text(f"note: {note}", style="dim"))
    console.print()
    console.print(Text(_timings_line(report["timings"]), style="dim"))
    verdict = report["verdict"]
    if verdict["exit_code"]:
        console.print(Text("Review failed: " + "; ".join(verdict["reasons"]) + f" (exit code {verdict['exit_code']})",
                           style="bold red"))
    else:
        console.print(Text("Review passed (exit code 0)", style="bold green"))


def exempted_groups(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Exempted findings grouped by (policy, reason): count, first resource."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for v in sorted(report["policies"].get("exempted") or [], key=lambda v: (v["policy"], v["urn"])):
        g = groups.setdefault((v["policy"], v["reason"]), {"policy": v["policy"], "reason": v["reason"],
                                                           "urn": v["urn"], "count": 0})
        g["count"] += 1
    return list(groups.values())


def violation_groups(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Violations grouped by (level, policy): count and the first one; mandatory first."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    ordered = sorted(report["policies"]["violations"], key=lambda v: (v["level"] != "mandatory", v["policy"], v["urn"]))
    for v in ordered:
        key = (v["level"], v["policy"])
        if key in groups:
            groups[key]["count"] += 1
        else:
            groups[key] = {"level": v["level"], "policy": v["policy"], "count": 1, "urn": v["urn"],
                           "message": v["message"]}
    return list(groups.values())


def _timings_line(t: Mapping[str, float]) -> str:
    parts = [f"program {t.get('program_s', 0):.2f} s"]
    if "policies_s" in t:
        parts.append(f"policies {t['policies_s']:.2f} s")
    parts.append(f"cost {t.get('cost_s', 0):.2f} s")
    if "compare_s" in t:
        parts.append(f"compare {t['compare_s']:.2f} s")
    if "total_s" in t:
        parts.append(f"total {t['total_s']:.2f} s")
    extra = f" (analyzer start {t['analyzer_start_s']:.2f} s, overlapped)" if "analyzer_start_s" in t else ""
    return "Timings: " + ", ".join(parts) + extra


# ---------------------------------------------------------------------------------------------
# Markdown (PR comment)
# ---------------------------------------------------------------------------------------------


def _cell(text: Any) -> str:
    return _one_line(str(text)).replace("|", "\\|")


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: Sequence[str] | None = None) -> str:
    align = align or ["l"] * len(headers)
    sep = ["---:" if a == "r" else "---" for a in align]
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    out.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return "\n".join(out) + "\n"


def _markdown_compare(report: Mapping[str, Any]) -> str:
    """The per-component delta against ``--compare-to``, first in the comment like a cost diff:
    largest change first, unchanged components left out."""
    cmp = report.get("compare")
    if not cmp:
        return ""
    cost = report["cost"]
    total = cmp["rows"][-1]
    changed = sorted((r for r in cmp["rows"][:-1] if r["delta"] or r["this"] or r["other"]),
                     key=lambda r: (-abs(r["delta"]), r["component"]))
    unknown = [cmp["columns"][side] for side, verdict in cmp.get("verdicts", {}).items() if verdict == "unknown"]
    out = [f"\n### Compared to `{cmp['stack']}` ({cost['currency']}/month)\n\n",
           f"**{signed_money(total['delta'])}/month** against `{cmp['stack']}`, largest change first.\n\n",
           _table(["Component", "Δ", f"`{cmp['columns']['other']}`", f"`{cmp['columns']['this']}`"],
                  [*([r["component"], signed_money(r["delta"]), money(r["other"]), money(r["this"])] for r in changed),
                   ["**total**", f"**{signed_money(total['delta'])}**", money(total["other"]), money(total["this"])]],
                  ["l", "r", "r", "r"])]
    if unknown:
        out.append(f"\nThe cost of {', '.join(f'`{name}`' for name in unknown)} is unknown (unpriced lines): "
                   "those figures are only what could be priced.\n")
    return "".join(out)


def render_markdown(report: Mapping[str, Any]) -> str:
    pol, cost, summary = report["policies"], report["cost"], report["summary"]
    types = {r["urn"]: r["type"] for r in report["resources"]}
    verdict = report["verdict"]
    icon = "❌" if verdict["exit_code"] else "✅"
    budget = cost.get("budget")
    if cost.get("verdict") == "unknown":
        vs_budget = f"{len(cost['unpriced'])} line(s) unpriced: **cost unknown**"
    elif budget is None:
        vs_budget = "no budget set"
    elif cost["over_budget"]:
        vs_budget = f"budget {money(budget)}, **over by {money(cost['monthly_total'] - budget)}**"
    else:
        vs_budget = f"budget {money(budget)}, {money(budget - cost['monthly_total'])} left"
    policy_part = (f"policies not run ({pol.get('skipped')})" if pol["pack"] is None else
                   f"**{pol['mandatory']} mandatory** / {pol['advisory']} advisory violations")
    out: list[str] = [
        f"## {icon} Review of `{report['stack']}` ({report['environment']}, {report['region']})\n\n",
        f"**{_count(summary['resources'], 'resource')}** · {policy_part} · "
        f"**{total_money(cost)}/month** ({vs_budget})\n",
    ]
    if verdict["reasons"]:
        out.append("\nFails: " + "; ".join(verdict["reasons"]) + ".\n")
    out.append(_markdown_compare(report))
    if report.get("topology"):
        from review.topology import mermaid

        out.append("\n### Topology\n\n```mermaid\n" + mermaid(report["topology"]) + "```\n")

    out.append("\n### Policy violations\n\n")
    if pol["pack"] is None:
        out.append("_Policies were not run._\n")
    elif pol["violations"]:
        mandatory = sorted((v for v in pol["violations"] if v["level"] == "mandatory"),
                           key=lambda v: (v["policy"], v["urn"]))
        if mandatory:
            shown = mandatory[:MARKDOWN_MANDATORY_ROWS]
            out.append(_table(["Level", "Policy", "Resource", "Message"],
                              (["🔴 mandatory", f"`{v['policy']}`", _resource_label(v["urn"], types), v["message"]]
                               for v in shown)))
            if len(mandatory) > len(shown):
                out.append(f"\n… and {len(mandatory) - len(shown)} more mandatory violations (see the JSON report).\n")
        advisory = [g for g in violation_groups(report) if g["level"] == "advisory"]
        if advisory:
            n = sum(g["count"] for g in advisory)
            out.append(f"\n<details><summary>🟡 {n} advisory violation(s) of {len(advisory)} policies</summary>\n\n")
            out.append(_table(["Policy", "Count", "Resource (first)", "Message (first)"],
                              ([f"`{g['policy']}`", g["count"], _resource_label(g["urn"], types), g["message"]]
                               for g in advisory), ["l", "r", "l", "l"]))
            out.append("\n</details>\n")
    else:
        out.append(f"None ({pol['policies']} policies of pack `{pol['pack']}`).\n")
    exempted = exempted_groups(report) if pol["pack"] is not None else []
    if exempted:
        out.append(f"\n**Exempted by the stack file** ({sum(g['count'] for g in exempted)} advisory finding(s)):\n\n")
        out.append(_table(["Policy", "Count", "Resource (first)", "Reason"],
                          ([f"`{g['policy']}`", g["count"], _resource_label(g["urn"], types), g["reason"]]
                           for g in exempted), ["l", "r", "l", "l"]))

    out.append(f"\n### Cost by component ({cost['currency']}/month)\n\n")
    rows = [(f"`{r['name']}`", r["type"], money(r["monthly"]), f"{r['share']:.0%}") for r in components_table(report)]
    rows.append(("**total**", "", f"**{total_money(cost)}**", ""))
    out.append(_table(["Component", "Type", "Monthly", "Share"], rows, ["l", "l", "r", "r"]))

    lines = top_lines(report)
    if lines:
        out.append("\n<details><summary>Top cost lines</summary>\n\n")
        out.append(_table(["Resource", "Item", "Monthly", "Basis"],
                          ([_resource_label(line["urn"], types), line.get("item") or "", money(line["monthly"]),
                            line["basis"]] for line in lines), ["l", "l", "r", "l"]))
        out.append("\n</details>\n")

    out.append("\n### Unpriced\n\n")
    groups = unpriced_groups(report)
    if groups:
        out.append(f"{len(cost['unpriced'])} line(s) without a price, so the monthly cost is **unknown** "
                   f"({money(cost['monthly_total'])} is only what could be priced):\n\n")
        out.extend(f"- `{t}` ({_cell(_names(names))}): {_cell(reason)}\n" for t, reason, names in groups)
    else:
        out.append("None: every resource is priced or free with a reason.\n")

    if report.get("notes"):
        out.append("\n### Notes\n\n")
        out.extend(f"- {_cell(n)}\n" for n in report["notes"])
    out.append(f"\n<sub>{_timings_line(report['timings'])}</sub>\n")
    return "".join(out)


__all__ = ["TreeRow", "money", "render_markdown", "render_text", "tree_rows"]

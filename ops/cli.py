"""The ``python -m ops`` command line (typer).

Exit codes, the same for every command: 0 clean; 1 a finding (or a failed action); 2 bad usage or
outputs that cannot be read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import boto3
import typer
from botocore.exceptions import BotoCoreError, NoCredentialsError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ops import backups as backups_mod
from ops import drill
from ops import verify as verify_mod
from ops.aws import Clients
from ops.findings import Report, render
from ops.outputs import OutputsError, StackOutputs, load_outputs

app = typer.Typer(
    name="ops",
    help="Operations on a deployed data-platform stack (boto3): verify live state, check backup "
    "age against the RPO, run DR drills. Reads the stack outputs from --outputs FILE or, when "
    "the Pulumi CLI is installed, from `pulumi stack output --json`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


class Format(StrEnum):
    """Output format of a report."""

    table = "table"
    json = "json"


OutputsOpt = Annotated[
    Path | None,
    typer.Option(
        "--outputs",
        "-o",
        dir_okay=False,
        help="Stack outputs as JSON (`pulumi stack output --json > FILE`). Default: ask the Pulumi CLI.",
    ),
]
StackOpt = Annotated[
    str | None,
    typer.Option("--stack", "-s", help="Stack whose outputs the Pulumi CLI reads (without --outputs)."),
]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile (default: the usual chain).")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table (rich) or json.")]
LagOpt = Annotated[
    float, typer.Option("--max-replica-lag", min=0, help="Largest acceptable ReplicaLag in seconds.")
]
NowOpt = Annotated[
    datetime | None,
    typer.Option(
        "--now",
        metavar="ISO-TIME",
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
        help="Evaluate as of this time (ISO 8601; naive means UTC). Default: the current time.",
    ),
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Fail (exit 1) on warnings too.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Table: list passing checks too, not only findings.")]


def _console(fmt: Format = Format.table) -> Console:
    return Console(soft_wrap=fmt == Format.json, highlight=False)


def _fail(message: str, code: int = 2) -> typer.Exit:
    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(code)


def _load(outputs: Path | None, stack: str | None) -> StackOutputs:
    try:
        return load_outputs(outputs, stack)
    except OutputsError as err:
        raise _fail(str(err)) from None


def _clients(profile: str | None) -> Clients:
    try:
        return Clients(boto3.Session(profile_name=profile) if profile else boto3.Session())
    except BotoCoreError as err:
        raise _fail(f"AWS session: {err}") from None


def _utc(now: datetime | None) -> datetime | None:
    if now is None:
        return None
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _emit(
    report: Report, fmt: Format, title: str, extra: dict[str, Any] | None = None, show_all: bool = False
) -> None:
    console = _console(fmt)
    if fmt == Format.json and extra:
        console.print(json.dumps({**report.to_json(), **extra}, indent=2, default=str), markup=False)
    else:
        render(report, fmt.value, console, title=title, show_all=show_all)


def _run_aws(fn: Any) -> Any:
    """Run an AWS-calling function; missing credentials or an unreachable endpoint exit 2."""
    try:
        return fn()
    except NoCredentialsError:
        raise _fail("no AWS credentials (set AWS_PROFILE or use --profile)") from None
    except BotoCoreError as err:
        raise _fail(f"AWS: {err}") from None


@app.command()
def verify(
    outputs: OutputsOpt = None,
    stack: StackOpt = None,
    fmt: FormatOpt = Format.table,
    max_replica_lag: LagOpt = verify_mod.DEFAULT_MAX_REPLICA_LAG,
    strict: StrictOpt = False,
    show_all: AllOpt = False,
    profile: ProfileOpt = None,
    now: NowOpt = None,
) -> None:
    """Check the live resources against what the policies require.

    RDS primary: encrypted with the stack's KMS key, Multi-AZ, deletion protection, backup
    retention. DR replica: present in drRegion (missing or in another region is a finding),
    replicating from the primary, ReplicaLag under --max-replica-lag (no datapoints = warning).
    ElastiCache: automatic failover, Multi-AZ, at-rest (stack key) and in-transit encryption,
    snapshot retention. Buckets: SSE-KMS with the stack key, versioning, public access block,
    replication to the replica bucket in its region. Each finding names resource, property,
    expected and actual. Exit 1 on an error finding, 0 when clean.
    """
    out = _load(outputs, stack)
    clients = _clients(profile)
    report = _run_aws(lambda: verify_mod.verify(out, clients, max_replica_lag=max_replica_lag, now=_utc(now)))
    _emit(report, fmt, f"verify {out.environment}", show_all=show_all)
    raise typer.Exit(report.exit_code(strict=strict))


@app.command()
def backups(
    outputs: OutputsOpt = None,
    stack: StackOpt = None,
    fmt: FormatOpt = Format.table,
    prefix: Annotated[
        list[str] | None,
        typer.Option(
            "--prefix",
            metavar="STORE=PREFIX",
            help="Only objects under PREFIX count for STORE (e.g. graph=neo4j/); repeatable.",
        ),
    ] = None,
    strict: StrictOpt = False,
    profile: ProfileOpt = None,
    now: NowOpt = None,
) -> None:
    """Check the age of the newest recovery point of every store against rpoHours.

    postgres: newest RDS snapshot (automated or manual) and the point-in-time-restore horizon;
    redis: newest ElastiCache snapshot; graph/vector (and any other store): newest object in the
    store's backup bucket. Exit 1 when a store has none or it is older than its RPO.
    """
    prefixes: dict[str, str] = {}
    for item in prefix or []:
        store, sep, value = item.partition("=")
        if not sep or not store:
            raise _fail(f"--prefix {item}: expected STORE=PREFIX")
        prefixes[store] = value
    out = _load(outputs, stack)
    clients = _clients(profile)
    report = _run_aws(lambda: backups_mod.backups(out, clients, now=_utc(now), prefixes=prefixes))
    _emit(report, fmt, f"backups {out.environment}", show_all=True)
    raise typer.Exit(report.exit_code(strict=strict))


@app.command("dr-drill")
def dr_drill(
    outputs: OutputsOpt = None,
    stack: StackOpt = None,
    promote: Annotated[
        bool,
        typer.Option(
            "--promote", help="Promote the DR replica to a standalone primary (dry run without --yes)."
        ),
    ] = False,
    test_failover: Annotated[
        bool,
        typer.Option(
            "--test-failover", help="ElastiCache TestFailover on one shard (dry run without --yes)."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Act: without it nothing is changed.")] = False,
    node_group: Annotated[str, typer.Option("--node-group", help="Shard for --test-failover.")] = "0001",
    timeout: Annotated[
        float, typer.Option("--timeout", min=0, help="Seconds to wait for the promotion.")
    ] = 1800,
    interval: Annotated[float, typer.Option("--interval", min=1, help="Seconds between polls.")] = 15,
    fmt: FormatOpt = Format.table,
    max_replica_lag: LagOpt = verify_mod.DEFAULT_MAX_REPLICA_LAG,
    profile: ProfileOpt = None,
) -> None:
    """Report the DR replica's state and lag; optionally promote it or test a Redis failover.

    Without options: the replica's checks (exit 1 on an error finding). --promote prints the
    promote_read_replica call and its preconditions; with --yes it promotes, waits (bounded by
    --timeout, polling every --interval) and prints the follow-up steps. --test-failover does the
    same for ElastiCache TestFailover on --node-group.
    """
    if promote and test_failover:
        raise _fail("--promote and --test-failover are separate drills: pass one")
    out = _load(outputs, stack)
    clients = _clients(profile)
    console = _console(fmt)
    report, _replica = _run_aws(lambda: drill.status(out, clients, max_replica_lag=max_replica_lag))
    if not (promote or test_failover):
        _emit(report, fmt, f"DR replica {out.environment}", show_all=True)
        raise typer.Exit(report.exit_code())

    try:
        plan = _run_aws(
            lambda: (
                drill.plan_promotion(out, clients)
                if promote
                else drill.plan_test_failover(out, clients, node_group)
            )
        )
    except drill.DrillError as err:
        raise _fail(str(err), 1) from None
    doc: dict[str, Any] = {
        "plan": {"call": plan.describe(), "blockers": plan.blockers, "notes": plan.notes},
        "dryRun": not yes,
    }
    if fmt == Format.table:
        render(report, "table", console, title=f"DR replica {out.environment}", show_all=True)
        _print_plan(console, plan, yes)
    if plan.blockers or not yes:
        if promote and not plan.blockers:
            doc["followUp"] = drill.follow_up_steps(out, stack)
            if fmt == Format.table:
                _print_steps(console, "After the promotion:", doc["followUp"])
                console.print("Dry run: nothing changed. Re-run with --yes to promote.")
        elif fmt == Format.table and not plan.blockers:
            console.print("Dry run: nothing changed. Re-run with --yes to start the failover test.")
        if fmt == Format.json:
            _emit(report, fmt, "", doc)
        raise typer.Exit(1 if plan.blockers else 0)

    if test_failover:
        group = _run_aws(lambda: drill.start_test_failover(clients, plan))
        doc["result"] = {"status": group.get("Status")}
        if fmt == Format.table:
            console.print(
                f"Failover test started on {plan.params['NodeGroupId']}: "
                f"replication group is {group.get('Status')}."
            )
        else:
            _emit(report, fmt, "", doc)
        raise typer.Exit(0)

    _run_aws(lambda: drill.promote(out, clients, plan))
    identifier = str(plan.params["DBInstanceIdentifier"])
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=fmt == Format.json,
        ) as progress:
            task = progress.add_task(f"promoting {identifier}", total=None)
            instance = _run_aws(
                lambda: drill.wait_promoted(
                    clients,
                    plan.region,
                    identifier,
                    timeout=timeout,
                    interval=interval,
                    on_poll=lambda state, _elapsed: progress.update(
                        task, description=f"{identifier}: {state}"
                    ),
                )
            )
    except drill.DrillError as err:
        raise _fail(str(err), 1) from None
    doc["followUp"] = drill.follow_up_steps(out, stack, instance)
    doc["result"] = {"status": instance.get("DBInstanceStatus"), "endpoint": instance.get("Endpoint")}
    if fmt == Format.table:
        console.print(f"[green]{identifier} is a standalone primary in {plan.region}.[/]")
        _print_steps(console, "Next steps:", doc["followUp"])
    else:
        _emit(report, fmt, "", doc)
    raise typer.Exit(0)


def _print_plan(console: Console, plan: drill.Plan, yes: bool) -> None:
    verb = "Calling" if yes and not plan.blockers else "Would call"
    console.print(f"{verb}: {plan.describe()}", markup=False)
    for blocker in plan.blockers:
        console.print(f"  [bold red]blocked:[/] {blocker}")
    for note in plan.notes:
        console.print(f"  [yellow]note:[/] {note}")


def _print_steps(console: Console, title: str, steps: list[str]) -> None:
    console.print(f"[bold]{title}[/]")
    for number, step in enumerate(steps, 1):
        console.print(f"  {number}. {step}", markup=False)

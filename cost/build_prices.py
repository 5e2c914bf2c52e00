"""Build the shipped price table ``cost/prices.csv`` from the source files in ``cost/sources/``.

Usage::

    python -m cost.build_prices [--check] [--output cost/prices.csv]

Sources (all inside the repository, read in this order; see ``cost/sources/README.md``):

* ``aws-on-demand.csv``: the shared pricing data, copied verbatim (its notes: ``aws-on-demand.md``);
* ``stored-extracts.csv``: more rows read the same way from the same stored repositories;
* ``aws-pricing-pages.csv``: rows no stored source had, entered by hand from the named AWS pricing
  page and marked so in their ``source`` cell.

Every row keeps its columns ``service,item,region,unit,usd,source,as_of`` verbatim and gains one
column, ``key``: a normalized, region-free name the cost model looks prices up by (for example
``rds:postgres:db.r6g.large:single-az`` or ``ebs:iops:gp3``). A row whose item matches no rule
stops the build, so that new price data is never silently ignored; a key that appears twice for
one region stops it as well (across files too), and so does a table that is not complete for the
covered regions (``cost.coverage``). The output is written only when every check passes.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cost import coverage

COLUMNS = ("service", "item", "region", "unit", "usd", "source", "as_of")
"""Columns of the shared source, kept verbatim and in this order."""

OUTPUT_COLUMNS = (*COLUMNS, "key")
"""Columns of ``cost/prices.csv``."""

SOURCES_DIR = Path(__file__).resolve().parent / "sources"
"""Where the source files live, inside the package."""

DEFAULT_SOURCES = tuple(
    SOURCES_DIR / name for name in ("aws-on-demand.csv", "stored-extracts.csv", "aws-pricing-pages.csv")
)
"""The source files, in the order their rows enter the table."""

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "prices.csv"
"""The table shipped as package data."""


def _az(text: str) -> str:
    return "multi-az" if text == "Multi-AZ" else "single-az"


@dataclass(frozen=True)
class _Rule:
    """Maps the ``item`` of one ``service`` to a key when ``pattern`` matches it in full."""

    service: str
    pattern: str
    key: Callable[[re.Match[str]], str]


_RULES: tuple[_Rule, ...] = (
    _Rule("EC2", r"(?P<t>[a-z0-9]+\.[a-z0-9]+) Linux on-demand", lambda m: f"ec2:instance:{m['t']}"),
    _Rule("EBS", r"(?P<t>gp2|gp3|io1) storage", lambda m: f"ebs:storage:{m['t']}"),
    _Rule("EBS", r"gp3 provisioned IOPS above 3000 baseline", lambda m: "ebs:iops:gp3"),
    _Rule("EBS", r"gp3 provisioned throughput above 125 MB/s baseline", lambda m: "ebs:throughput:gp3"),
    _Rule("EBS", r"io1 provisioned IOPS", lambda m: "ebs:iops:io1"),
    _Rule("EBS", r"Snapshot storage \(standard tier\)", lambda m: "ebs:snapshot"),
    _Rule(
        "RDS",
        r"Storage (?P<t>gp2|gp3|io1) (?P<az>Single-AZ|Multi-AZ) \(engine-agnostic\)",
        lambda m: f"rds:storage:{m['t']}:{_az(m['az'])}",
    ),
    _Rule(
        "RDS",
        r"(?P<t>gp3|io1) provisioned IOPS(?: above baseline)? (?P<az>Single-AZ|Multi-AZ)",
        lambda m: f"rds:iops:{m['t']}:{_az(m['az'])}",
    ),
    _Rule("RDS", r"Backup storage beyond free allocation", lambda m: "rds:backup"),
    _Rule(
        "RDS",
        r"PostgreSQL (?P<c>db\.[a-z0-9]+\.[a-z0-9]+) (?P<az>Single-AZ|Multi-AZ)"
        r"(?: \(DB instance\))? on-demand.*",
        lambda m: f"rds:postgres:{m['c']}:{_az(m['az'])}",
    ),
    _Rule(
        "ElastiCache",
        r"(?P<t>cache\.[a-z0-9]+\.[a-z0-9]+) node on-demand \((?P<e>Redis OSS|Valkey)\)",
        lambda m: f"elasticache:node:{m['t']}:{'valkey' if m['e'] == 'Valkey' else 'redis'}",
    ),
    _Rule("ElastiCache", r"Backup \(snapshot\) storage", lambda m: "elasticache:backup"),
    _Rule(
        "EKS",
        r"Cluster control plane \((?P<s>standard|extended) support\)",
        lambda m: f"eks:cluster:{m['s']}",
    ),
    _Rule("VPC", r"NAT gateway hour", lambda m: "vpc:nat:hour"),
    _Rule("VPC", r"NAT gateway data processed", lambda m: "vpc:nat:gb"),
    _Rule("VPC", r"Public IPv4 address hour", lambda m: "vpc:ipv4:hour"),
    _Rule("VPC", r"Interface endpoint AZ-hour", lambda m: "vpc:endpoint:hour"),
    _Rule("VPC", r"Interface endpoint data processed.*", lambda m: "vpc:endpoint:gb"),
    _Rule("S3", r"S3 Standard storage.*", lambda m: "s3:storage:standard"),
    _Rule("S3", r"S3 Standard-Infrequent Access storage", lambda m: "s3:storage:standard-ia"),
    _Rule("S3", r"S3 Glacier Instant Retrieval storage", lambda m: "s3:storage:glacier-ir"),
    _Rule("S3", r"S3 Glacier Flexible Retrieval storage", lambda m: "s3:storage:glacier"),
    _Rule("S3", r"S3 Replication Time Control data replicated", lambda m: "s3:rtc:gb"),
    _Rule("S3", r"S3 Glacier Deep Archive storage", lambda m: "s3:storage:deep-archive"),
    _Rule("KMS", r"Customer managed key", lambda m: "kms:key"),
    _Rule("KMS", r"API requests \(symmetric\)", lambda m: "kms:requests:symmetric"),
    _Rule("KMS", r"API requests \(asymmetric, RSA 3072\)", lambda m: "kms:requests:asymmetric-rsa3072"),
    _Rule("CloudWatch", r"Standard-resolution metric alarm", lambda m: "cloudwatch:alarm:standard"),
    _Rule("CloudWatch", r"High-resolution metric alarm", lambda m: "cloudwatch:alarm:high-resolution"),
    _Rule("CloudWatch", r"Custom/detailed metric.*", lambda m: "cloudwatch:metric"),
    _Rule("CloudWatch", r"Logs ingestion \(standard log class\)", lambda m: "cloudwatch:logs:ingestion"),
    _Rule("CloudWatch", r"Logs archival storage", lambda m: "cloudwatch:logs:storage"),
    _Rule("SNS", r"Standard topic API requests.*", lambda m: "sns:requests"),
    _Rule("SNS", r"HTTP/HTTPS notification deliveries.*", lambda m: "sns:deliveries:http"),
    _Rule("SNS", r"Email/Email-JSON notification deliveries.*", lambda m: "sns:deliveries:email"),
    _Rule("Secrets Manager", r"Secret", lambda m: "secretsmanager:secret"),
    _Rule("Secrets Manager", r"API requests", lambda m: "secretsmanager:requests"),
    _Rule(
        "Data Transfer", r"Inter-region transfer out to other AWS regions", lambda m: "transfer:inter-region"
    ),
    _Rule("Data Transfer", r"Intra-region \(cross-AZ\) transfer.*", lambda m: "transfer:cross-az"),
    _Rule("Data Transfer", r"Transfer out to Internet.*", lambda m: "transfer:internet"),
    _Rule("Data Transfer", r"us-east-1 to us-east-2 .*", lambda m: "transfer:us-east-2"),
    _Rule("Route 53", r"Hosted zone.*", lambda m: "route53:zone"),
    _Rule(
        "CodeBuild",
        r"Linux build minute (?P<c>BUILD_[A-Z0-9_]+)(?P<arm> ARM)?",
        lambda m: f"codebuild:minute:{m['c'].lower()}{'_arm' if m['arm'] else ''}",
    ),
    _Rule("ELB", r"Application Load Balancer hour", lambda m: "elb:alb:hour"),
    _Rule("ELB", r"Application Load Balancer LCU", lambda m: "elb:alb:lcu"),
    _Rule("ELB", r"Network Load Balancer hour", lambda m: "elb:nlb:hour"),
    _Rule("ELB", r"Network Load Balancer NLCU", lambda m: "elb:nlb:nlcu"),
)


class BuildError(ValueError):
    """The source cannot be turned into a price table; the message names the row and the problem."""


def key_for(service: str, item: str) -> str:
    """The normalized key of one price row, or :class:`BuildError` when no rule matches."""
    for rule in _RULES:
        if rule.service == service:
            match = re.fullmatch(rule.pattern, item)
            if match:
                return rule.key(match)
    raise BuildError(f"no key rule for service {service!r} item {item!r}: add one to cost/build_prices.py")


def build_rows(rows: Iterable[dict[str, str]], origin: str = "") -> list[dict[str, str]]:
    """Validate source rows and add their ``key``; every problem is collected and raised once.

    ``rows`` may come from several files: give each row a ``__where`` (``file:line``) to have the
    messages name it; otherwise rows are numbered from line 2 of ``origin``."""
    out: list[dict[str, str]] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for number, row in enumerate(rows, start=2):
        line = row.get("__where") or f"{origin}{':' if origin else ''}{number}"
        missing = [c for c in COLUMNS if not (row.get(c) or "").strip()]
        if missing:
            problems.append(f"{line}: empty {', '.join(missing)}")
            continue
        try:
            float(row["usd"])
        except ValueError:
            problems.append(f"{line}: usd {row['usd']!r} is not a number")
            continue
        try:
            key = key_for(row["service"], row["item"])
        except BuildError as exc:
            problems.append(f"{line}: {exc}")
            continue
        where = (key, row["region"])
        if where in seen:
            problems.append(f"{line}: key {key} in {row['region']} repeats {seen[where]}")
            continue
        seen[where] = line
        out.append({**{c: row[c] for c in COLUMNS}, "key": key})
    if not problems:
        problems += coverage.problems((row["key"], row["region"]) for row in out)
    if problems:
        raise BuildError("price table not built:\n  " + "\n  ".join(problems))
    return out


def render(rows: Sequence[dict[str, str]]) -> str:
    """The csv text of ``cost/prices.csv`` (LF line endings, minimal quoting)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=OUTPUT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_sources(sources: Sequence[Path] = DEFAULT_SOURCES) -> list[dict[str, str]]:
    """The rows of every source file, each tagged with ``__where`` (``file:line``)."""
    rows: list[dict[str, str]] = []
    for source in sources:
        with source.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = tuple(reader.fieldnames or ())
            if header != COLUMNS:
                raise BuildError(f"{source}: columns {header} are not {COLUMNS}")
            rows += [{**row, "__where": f"{source.name}:{line}"} for line, row in enumerate(reader, start=2)]
    return rows


def build(sources: Sequence[Path] = DEFAULT_SOURCES) -> str:
    """Read ``sources`` and return the text of the shipped table."""
    return render(build_rows(read_sources(sources)))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m cost.build_prices", description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, action="append", dest="sources", default=None,
                        help="a source csv (repeat; default: the files in cost/sources/)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="table to write")
    parser.add_argument("--check", action="store_true", help="exit 1 if the output is not up to date")
    args = parser.parse_args(argv)
    try:
        sources = tuple(args.sources) if args.sources else DEFAULT_SOURCES
        text = build(sources)
    except (OSError, BuildError) as exc:
        print(exc, file=sys.stderr)
        return 2
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(f"{args.output} is out of date: run python -m cost.build_prices", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.write_text(text, encoding="utf-8")
    count = sum(1 for _ in csv.reader(io.StringIO(text))) - 1
    print(f"{args.output}: {count} prices from {', '.join(str(p.name) for p in sources)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

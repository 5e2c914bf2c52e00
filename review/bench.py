"""``python -m review.bench``: how long the review takes, end to end and by phase, and how it scales.

1. **End to end**: ``python -m review --stack STACK`` as a user runs it (text, then json), N times
   each (default 7), wall clock min/median/max; the phases (program, policies, cost, analyzer
   start) from the JSON runs' ``timings``; the interpreter + import floor for reference.
2. **Scaling**: in one process, the program run with synthetic config overrides that multiply the
   members (``redis.shards``, ``vector.peers``, ``graph.secondaries``, ``postgres.readReplicas``,
   capped at what the settings allow) by 1, 2, 5, 10; for each, resources vs seconds of the program,
   policy (one analyzer process, reused) and cost phases, and a least-squares line
   ``seconds = a + b × resources`` with its r² to show the growth is linear.

The goal: the production review under 1.5 s end to end on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

GOAL_S = 1.5
SCALES = (1, 2, 5, 10)
#: section → {key: (how to scale, cap)}; caps are the settings' maxima (infra/settings.py).
SCALED: dict[str, dict[str, int]] = {
    "redis": {"shards": 500},
    "vector": {"peers": 50},
    "graph": {"secondaries": 20},
    "postgres": {"readReplicas": 5},
}
DEFAULTS = {"redis": {"shards": 3}, "vector": {"peers": 3}, "graph": {"secondaries": 2},
            "postgres": {"readReplicas": 1}}
NS = "data-platform"


def _stats(values: Sequence[float]) -> str:
    return f"min {min(values):6.3f}  median {statistics.median(values):6.3f}  max {max(values):6.3f}"


def _load() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:  # pragma: no cover
        return "load n/a"
    return f"load {one:.2f}/{five:.2f} on {os.cpu_count()} CPUs"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(
    cmd: Sequence[str], cwd: Path, cpu: list[float] | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall seconds of ``cmd``; appends its CPU seconds (user+sys, with the pack process) to ``cpu``."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False,
                          env=dict(os.environ, COLUMNS="160"))
    wall = time.perf_counter() - started
    if cpu is not None:
        cpu.append(_children_cpu() - cpu_before)
    return wall, proc


_SDK_PROBE = """
import json, sys
from pathlib import Path
from review.program import run_program
run_program(Path(sys.argv[1]), sys.argv[2])
roots = ("pulumi_aws", "pulumi_kubernetes", "pulumi_random", "pulumi_docker", "pulumi_tls")
print(json.dumps(sorted(m for m, mod in list(sys.modules.items())  # executed packages, not lazy stubs
                        if m.split(".")[0] in roots and type(mod).__name__ == "module"
                        and str(getattr(mod, "__file__", "")).endswith("__init__.py"))))
"""


def sdk_floor(project_dir: Path, stack: str, out: Callable[[str], None]) -> None:
    """What importing the provider SDK packages the program loads costs by itself (no resource yet)."""
    proc = subprocess.run([sys.executable, "-c", _SDK_PROBE, str(project_dir), stack], cwd=project_dir,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        out(f"  (could not list the SDK packages the program imports: {proc.stderr.strip().splitlines()[-1:]})")
        return
    packages = json.loads(proc.stdout.strip().splitlines()[-1])
    # pulumi SDKs register subpackages lazily: touch each one so that it really executes
    code = ("import importlib, pulumi, grpc\n"
            f"for m in {packages!r}:\n    getattr(importlib.import_module(m), \"_review_touch\", None)\n")
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(3):
        walls.append(_timed([sys.executable, "-c", code], project_dir, cpus)[0])
    out(f"floor: python + pulumi + the {len(packages)} SDK packages the program imports "
        f"(e.g. {', '.join(packages[:4])}{', …' if len(packages) > 4 else ''}): "
        f"median {statistics.median(walls):.3f} s wall, {statistics.median(cpus):.3f} s cpu")


def end_to_end(project_dir: Path, stack: str, runs: int, out: Callable[[str], None],
               pack_dir: Path | None = None) -> dict[str, Any]:
    base = [sys.executable, "-m", "review", "--project-dir", str(project_dir), "--stack", stack,
            "--policy-pack", str(pack_dir or project_dir / "policies")]
    results: dict[str, Any] = {}
    sdk_floor(project_dir, stack, out)
    for fmt in ("text", "json"):
        walls: list[float] = []
        cpus: list[float] = []
        phases: dict[str, list[float]] = {}
        for _ in range(runs):
            wall, proc = _timed([*base, "--format", fmt], project_dir, cpus)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"review failed (exit {proc.returncode}):\n{proc.stderr}")
            walls.append(wall)
            if fmt == "json":
                report = json.loads(proc.stdout)
                for key, value in report["timings"].items():
                    phases.setdefault(key, []).append(float(value))
                results["resources"] = report["summary"]["resources"]
                results["exit_code"] = proc.returncode
        verdict = "meets" if statistics.median(walls) < GOAL_S else "MISSES"
        out(f"end to end, --format {fmt:<5} ({runs} runs): {_stats(walls)} s   [{verdict} the {GOAL_S} s goal]")
        out(f"  cpu (user+sys, review + pack):    {_stats(cpus)} s   (wall > cpu/2 means waiting or a busy host)")
        results[fmt] = walls
        if phases:
            results["phases"] = phases
    out(f"  {results.get('resources', 0)} resources, exit code {results.get('exit_code')}")
    out("  phases in process (json runs):")
    for key in ("program_s", "analyzer_start_s", "policies_wait_s", "policies_s", "cost_s", "total_s"):
        if key in results.get("phases", {}):
            note = {
                "analyzer_start_s": "  (background, overlaps the program)",
                "policies_wait_s": "  (part of policies_s: waiting for the pack to be ready)",
                "policies_s": "  (Configure + Analyze + AnalyzeStack; overlaps cost)",
                "total_s": "  (all phases, before rendering)",
            }.get(key, "")
            out(f"    {key:<17} {_stats(results['phases'][key])}{note}")
    return results


def scaled_overrides(config: Mapping[str, str], factor: int) -> dict[str, Any]:
    """Config overrides that multiply the members of each store by ``factor`` (capped)."""
    overrides: dict[str, Any] = {}
    for section, keys in SCALED.items():
        raw = config.get(f"{NS}:{section}")
        current: dict[str, Any] = json.loads(raw) if raw else {}
        for key, cap in keys.items():
            base = int(current.get(key, DEFAULTS[section][key]))
            # ×1 is the stack as configured; a member count of 0 grows to factor - 1
            current[key] = min(base * factor if base else factor - 1, cap)
        overrides[f"{NS}:{section}"] = current
    return overrides


def _fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least squares ``y = a + b x`` → (a, b, r²)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return my, 0.0, 0.0
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (a + b * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    return a, b, (1 - ss_res / ss_tot) if ss_tot else 1.0


def scaling(project_dir: Path, stack: str, scales: Sequence[int], out: Callable[[str], None],
            pack_dir: Path | None = None) -> list[dict[str, float]]:
    from cost.model import estimate
    from review.analyzer import PolicyAnalyzer
    from review.cli import _analyzer_resources
    from review.program import load_stack_config, run_program
    from review.report import StackSettings, resource_dicts

    sc = load_stack_config(project_dir, stack)
    rows: list[dict[str, float]] = []
    analyzer = PolicyAnalyzer(pack_dir or project_dir / "policies")
    try:
        analyzer.start()
        settings = StackSettings.from_config(sc)
        analyzer.configure(None, common=settings.policy_config())
        analyzer.configure_stack(stack=stack, tags={"environment": settings.environment}, config=sc.config)
        run_program(project_dir, stack, overrides=scaled_overrides(sc.config, 1))  # warm-up (imports)
        for factor in scales:
            overrides = scaled_overrides(sc.config, factor)
            run = run_program(project_dir, stack, overrides=overrides)
            if run.error:
                raise SystemExit(f"×{factor}: {run.error}")
            assert run.config is not None
            settings = StackSettings.from_config(run.config, run.outputs)
            t = time.perf_counter()
            resources = resource_dicts(run)
            cost = estimate(resources, region=settings.region, usage=settings.usage or None)
            cost_s = time.perf_counter() - t
            t = time.perf_counter()
            violations = len(analyzer.analyze_all(_analyzer_resources(run, resources)))
            pol_s = time.perf_counter() - t
            rows.append({"factor": factor, "resources": len(run.resources), "program_s": run.seconds,
                         "policies_s": pol_s, "cost_s": cost_s, "violations": violations,
                         "monthly": cost.monthly_total})
    finally:
        analyzer.close()

    members = ", ".join(f"{s}.{k}" for s, keys in SCALED.items() for k in keys)
    out(f"scaling ({stack}, members ×{'/'.join(map(str, scales))} via overrides of {members}; in process, warm):")
    out(f"  {'×':>3} {'resources':>9} {'program s':>10} {'policies s':>11} {'cost s':>8} "
        f"{'ms/res prog':>11} {'ms/res pol':>10} {'violations':>10} {'USD/month':>12}")
    for r in rows:
        n = max(r["resources"], 1)
        out(f"  {r['factor']:>3} {r['resources']:>9} {r['program_s']:>10.3f} {r['policies_s']:>11.3f} "
            f"{r['cost_s']:>8.3f} {1000 * r['program_s'] / n:>11.2f} {1000 * r['policies_s'] / n:>10.2f} "
            f"{r['violations']:>10} {r['monthly']:>12,.2f}")
    xs = [r["resources"] for r in rows]
    for phase in ("program_s", "policies_s", "cost_s"):
        a, b, r2 = _fit(xs, [r[phase] for r in rows])
        out(f"  {phase:<11} ≈ {a:.3f} s + {1000 * b:.3f} ms × resources   (r² {r2:.3f})")
    if rows and rows[0]["program_s"] > 0:
        ratio = [r["policies_s"] / r["program_s"] for r in rows if r["program_s"]]
        out(f"  policy phase / program phase: {min(ratio):.2f}..{max(ratio):.2f}")
    if len(set(xs)) == 1:
        out("  note: the resource count does not change with the members yet (the program is still being wired)")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m review.bench", description=__doc__.splitlines()[0])
    p.add_argument("--stack", default="production")
    p.add_argument("--runs", type=int, default=7, help="end-to-end runs per format (default 7)")
    p.add_argument("--project-dir", type=Path, default=Path(__file__).resolve().parent.parent)
    p.add_argument("--policy-pack", type=Path, default=None, help="default: <project>/policies")
    p.add_argument("--scales", default=",".join(map(str, SCALES)), help="member factors (default 1,2,5,10)")
    p.add_argument("--no-scaling", action="store_true")
    p.add_argument("--no-e2e", action="store_true")
    args = p.parse_args(argv)
    project_dir = args.project_dir.resolve()
    pack = args.policy_pack.resolve() if args.policy_pack else None

    def out(line: str) -> None:
        print(line, flush=True)

    out(f"review bench: stack {args.stack}, {_load()}, python {sys.version.split()[0]}")
    if not args.no_e2e:
        end_to_end(project_dir, args.stack, args.runs, out, pack)
    if not args.no_scaling:
        out("")
        scaling(project_dir, args.stack, [int(s) for s in args.scales.split(",")], out, pack)
    out(f"done; {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

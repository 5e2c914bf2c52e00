"""``python -m review.bench``: how long the review takes, end to end and by phase, and how it scales.

1. **Floor and end to end**, interleaved so that every figure sees the same machine load: per round,
   the import floor (a fresh Python importing ``pulumi``, ``grpc`` and the provider SDK packages
   the program imports — nothing else) twice, as a plain interpreter does and with the cyclic
   garbage collector off as ``python -m review`` runs, then ``python -m review --stack STACK`` as a
   user runs it (text, then json). N rounds (default 7); wall clock min/median/max, the CPU time,
   and the **difference** end to end − floor, against the goal (≤ 0.8 s above the floor; measured
   against the lower, gc-off floor so that the difference is the review's own work). The phases
   (program, policies, cost, analyzer start) come from the json runs' ``timings``.
2. **Scaling**: in one process, the program run with synthetic config overrides that multiply the
   members (``redis.shards``, ``vector.peers``, ``graph.secondaries``, ``postgres.readReplicas``,
   capped at what the settings and the services allow) by 1, 2, 5, 10, 20, 40, 80 — up to ~2,900
   resources for production; for each size, seconds and ms per resource of the program (warm),
   policy (a fresh pack process per size, as each review starts one; its Analyze calls and its
   AnalyzeStack apart) and cost phases, and a least-squares line ``seconds = a + b × resources``
   with its r², and the ms per resource at the largest size against the smallest (flat if linear).
3. **Policy pack**: its start (process → port → GetAnalyzerInfo), and the analysis of the stack's
   resources with and without its fast path (``DATA_PLATFORM_POLICY_NO_CACHE=1``). The tests
   check that both give the same verdicts; how fast each is is measured here, not asserted.

Timings are not asserted anywhere in the test tiers: this is where they are measured.
"""

from __future__ import annotations

import argparse
import gc
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

#: The goal of issue 19: production's end-to-end review at most this far above the import floor.
GOAL_ABOVE_FLOOR_S = 0.8
SCALES = (1, 2, 5, 10, 20, 40, 80)
#: section → {key: cap}; caps are the settings' maxima (infra/settings.py).
SCALED: dict[str, dict[str, int]] = {
    "redis": {"shards": 500},
    "vector": {"peers": 50},
    "graph": {"secondaries": 20},
    "postgres": {"readReplicas": 5},
}
DEFAULTS = {"redis": {"shards": 3, "replicasPerShard": 1}, "vector": {"peers": 3}, "graph": {"secondaries": 2},
            "postgres": {"readReplicas": 1}}
#: ElastiCache (cluster mode) allows at most 500 nodes per replication group: shards × (replicas + 1).
REDIS_MAX_NODES = 500
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
    """Wall seconds of ``cmd`` run in ``cwd`` (whose packages come first on the path); appends its CPU
    seconds (user+sys, with the pack process) to ``cpu``."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False,
                          env=dict(os.environ, COLUMNS="160", PYTHONPATH=str(cwd)))
    wall = time.perf_counter() - started
    if cpu is not None:
        cpu.append(_children_cpu() - cpu_before)
    return wall, proc


_SDK_PROBE = """
import json, sys
from pathlib import Path
from review.program import run_program
run_program(Path(sys.argv[1]), sys.argv[2])
roots = ("pulumi_aws", "pulumi_kubernetes", "pulumi_random", "pulumi_docker", "pulumi_tls", "pulumi_command")
print(json.dumps(sorted(m for m, mod in list(sys.modules.items())  # executed packages, not lazy stubs
                        if m.split(".")[0] in roots and type(mod).__name__ == "module"
                        and str(getattr(mod, "__file__", "")).endswith("__init__.py"))))
"""


def sdk_packages(project_dir: Path, stack: str) -> list[str]:
    """The provider SDK packages (``pulumi_aws.ec2``, …) that running the program executes."""
    proc = subprocess.run([sys.executable, "-c", _SDK_PROBE, str(project_dir), stack], cwd=project_dir,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"could not list the SDK packages the program imports: {proc.stderr.strip()[-2000:]}")
    packages: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return packages


def floor_code(packages: Sequence[str], *, gc_off: bool) -> str:
    """A fresh Python importing ``pulumi``, ``grpc`` and ``packages`` (pulumi SDKs register subpackages
    lazily: each one is touched so that it really executes), optionally with the cyclic GC off."""
    return (("import gc\ngc.disable()\n" if gc_off else "")
            + "import importlib, pulumi, grpc\n"
            + f"for m in {list(packages)!r}:\n    getattr(importlib.import_module(m), \"_review_touch\", None)\n")


def _review_cmd(project_dir: Path, stack: str, fmt: str, pack_dir: Path | None) -> list[str]:
    return [sys.executable, "-m", "review", "--project-dir", str(project_dir), "--stack", stack,
            "--policy-pack", str(pack_dir or project_dir / "policies"), "--format", fmt]


def end_to_end(project_dir: Path, stack: str, runs: int, out: Callable[[str], None],
               pack_dir: Path | None = None, baseline: Path | None = None) -> dict[str, Any]:
    """Floor and review runs, interleaved; with ``baseline`` (another checkout of the project, e.g. a
    ``git worktree`` of an older commit) its reviews run in the same rounds, for a before/after."""
    packages = sdk_packages(project_dir, stack)
    commands: dict[str, tuple[list[str], Path]] = {
        "floor": ([sys.executable, "-c", floor_code(packages, gc_off=False)], project_dir),
        "floor, gc off": ([sys.executable, "-c", floor_code(packages, gc_off=True)], project_dir),
        "text": (_review_cmd(project_dir, stack, "text", pack_dir), project_dir),
        "json": (_review_cmd(project_dir, stack, "json", pack_dir), project_dir),
    }
    if baseline is not None:
        commands["baseline text"] = (_review_cmd(baseline, stack, "text", None), baseline)
        commands["baseline json"] = (_review_cmd(baseline, stack, "json", None), baseline)
    walls: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    phases: dict[str, dict[str, list[float]]] = {"json": {}, "baseline json": {}}
    outputs: dict[str, str] = {}
    results: dict[str, Any] = {"packages": packages}
    loads: list[float] = []
    for _ in range(runs):  # interleaved: each round runs every command once, under the same load
        loads.append(os.getloadavg()[0])
        for key, (cmd, cwd) in commands.items():
            wall, proc = _timed(cmd, cwd, cpus[key])
            if proc.returncode not in (0, 1) or (key.startswith("floor") and proc.returncode):
                raise SystemExit(f"{key} failed (exit {proc.returncode}):\n{proc.stderr}")
            walls[key].append(wall)
            if key.endswith("json"):
                report = json.loads(proc.stdout)
                for phase, value in report.pop("timings").items():
                    phases[key].setdefault(phase, []).append(float(value))
                outputs[key] = json.dumps(report, sort_keys=True)
                if key == "json":
                    results["resources"] = report["summary"]["resources"]
                    results["exit_code"] = proc.returncode
    out(f"floor: a fresh Python importing pulumi, grpc and the {len(packages)} SDK packages the program imports "
        f"({', '.join(packages[:3])}{', …' if len(packages) > 3 else ''}); {runs} rounds, interleaved with the "
        f"review runs (load {min(loads):.1f}..{max(loads):.1f} at the start of a round)")
    for key in commands:
        label = {"floor": "floor", "floor, gc off": "floor, gc off"}.get(key, f"review --format {key}")
        if key.startswith("baseline"):
            label = f"baseline --format {key.split()[-1]}"
        out(f"  {label:<24} wall {_stats(walls[key])} s   cpu (user+sys, with the pack) median "
            f"{statistics.median(cpus[key]):.3f} s")
    floors = {k: statistics.median(walls[k]) for k in ("floor", "floor, gc off")}
    floor = min(floors.values())
    out(f"  end to end − floor (medians; goal ≤ {GOAL_ABOVE_FLOOR_S} s above the floor; the second figure is "
        "against the gc-off floor, the stricter reference):")
    for fmt in ("text", "json"):
        for prefix in ("", "baseline ") if baseline is not None else ("",):
            key = prefix + fmt
            diffs = [statistics.median(walls[key]) - f for f in floors.values()]
            verdicts = ["meets" if d <= GOAL_ABOVE_FLOOR_S else "MISSES" for d in diffs]
            cpu = statistics.median(cpus[key]) - statistics.median(cpus["floor, gc off"])
            out(f"    {prefix or 'review '}--format {fmt:<4}  wall {diffs[0]:+.3f} s [{verdicts[0]}]  "
                f"{diffs[1]:+.3f} s [{verdicts[1]}]   cpu {cpu:+.3f} s (review + pack − gc-off floor)")
    if baseline is not None:
        same = outputs.get("json") == outputs.get("baseline json")
        out(f"  baseline {baseline}: json report {'identical' if same else 'DIFFERENT'} (timings aside)")
    out(f"  {results.get('resources', 0)} resources, exit code {results.get('exit_code')}")
    for source in ("json", "baseline json") if baseline is not None else ("json",):
        out(f"  phases in process ({source} runs):")
        _phases(phases[source], out)
    results.update(walls=walls, cpus=cpus, phases=phases["json"], floor=floor)
    return results


def _phases(phases: Mapping[str, list[float]], out: Callable[[str], None]) -> None:
    for key in ("program_s", "analyzer_start_s", "policies_wait_s", "policies_s", "cost_s", "total_s"):
        if key in phases:
            note = {
                "program_s": "  (imports of the SDKs included)",
                "analyzer_start_s": "  (background, overlaps the program)",
                "policies_wait_s": "  (part of policies_s: waiting for the pack to be ready)",
                "policies_s": "  (Configure + Analyze + AnalyzeStack; overlaps cost)",
                "total_s": "  (all phases, before rendering)",
            }.get(key, "")
            out(f"    {key:<17} {_stats(phases[key])}{note}")


def scaled_overrides(config: Mapping[str, str], factor: int) -> dict[str, Any]:
    """Config overrides that multiply the members of each store by ``factor`` (capped)."""
    overrides: dict[str, Any] = {}
    for section, keys in SCALED.items():
        raw = config.get(f"{NS}:{section}")
        current: dict[str, Any] = json.loads(raw) if raw else {}
        for key, cap in keys.items():
            if section == "redis" and key == "shards":
                replicas = int(current.get("replicasPerShard", DEFAULTS["redis"]["replicasPerShard"]))
                cap = min(cap, REDIS_MAX_NODES // (replicas + 1))
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


def _scaled_run(project_dir: Path, stack: str, config: Mapping[str, str], factor: int,
                pack_dir: Path | None) -> dict[str, float]:
    """One size of the scaling run: the program (warm), the cost, the policies (a fresh pack)."""
    from cost.model import estimate
    from review.analyzer import PolicyAnalyzer, analyzed, is_provider
    from review.cli import _analyzer_resources
    from review.program import run_program
    from review.report import StackSettings, resource_dicts

    run = run_program(project_dir, stack, overrides=scaled_overrides(config, factor))
    if run.error:
        raise SystemExit(f"×{factor}: {run.error}")
    assert run.config is not None
    settings = StackSettings.from_config(run.config, run.outputs)
    t = time.perf_counter()
    resources = resource_dicts(run)
    cost = estimate(resources, region=settings.region, usage=settings.usage or None)
    cost_s = time.perf_counter() - t
    # How heavy the resources are (JSON bytes of their inputs): the mix changes with the size.
    input_bytes = sum(len(json.dumps(r.get("inputs") or {}, default=str)) for r in resources)
    # A fresh pack per size, started, configured and warmed (untimed) as a review does: one pack
    # process analyzes one stack.
    with PolicyAnalyzer(pack_dir or project_dir / "policies") as analyzer:
        analyzer.configure(None, common=settings.policy_config())
        analyzer.configure_stack(stack=stack, tags={"environment": settings.environment}, config=run.config.config)
        analyzer.analyze_stack([])
        analyzed_resources = _analyzer_resources(run, resources)
        providers = {r["urn"]: r for r in analyzed_resources if is_provider(r)}
        t = time.perf_counter()  # what analyze_all does, in its two parts
        found = analyzer.results([analyzer.send(analyzer.analyze_request(r, providers))
                                  for r in analyzed_resources if analyzed(r)])
        analyze_s = time.perf_counter() - t
        t = time.perf_counter()
        found += analyzer.analyze_stack(analyzed_resources)
        stack_s = time.perf_counter() - t
    return {"factor": factor, "resources": len(run.resources), "program_s": run.seconds,
            "policies_s": analyze_s + stack_s, "analyze_s": analyze_s, "stack_s": stack_s,
            "cost_s": cost_s, "violations": len(found), "monthly": cost.monthly_total, "input_bytes": input_bytes}


def scaling(project_dir: Path, stack: str, scales: Sequence[int], out: Callable[[str], None],
            pack_dir: Path | None = None) -> list[dict[str, float]]:
    from review.program import load_stack_config, run_program

    sc = load_stack_config(project_dir, stack)
    rows: list[dict[str, float]] = []
    run_program(project_dir, stack, overrides=scaled_overrides(sc.config, 1))  # warm-up (imports)
    for factor in scales:
        # As in `python -m review` (review/__main__.py): no cyclic GC while the phases run. What the
        # previous size left is collected here, untimed, instead of inside the next size's phases.
        gc.collect()
        gc.disable()
        try:
            rows.append(_scaled_run(project_dir, stack, sc.config, factor, pack_dir))
        finally:
            gc.enable()

    members = ", ".join(f"{s}.{k}" for s, keys in SCALED.items() for k in keys)
    out(f"scaling ({stack}, members ×{'/'.join(map(str, scales))} via overrides of {members}; "
        f"program warm in one process, cyclic GC off as in `python -m review`, a fresh pack per size):")
    out(f"  {'×':>3} {'resources':>9} {'program s':>10} {'policies s':>11} {'cost s':>8} "
        f"{'ms/res prog':>11} {'ms/res Analyze':>14} {'ms/res Stack':>12} {'ms/res cost':>11} {'ms/res all':>10} "
        f"{'KB in/res':>9} {'violations':>10} {'USD/month':>12}")
    for r in rows:
        n = max(r["resources"], 1)
        total = r["program_s"] + r["policies_s"] + r["cost_s"]
        out(f"  {r['factor']:>3} {r['resources']:>9} {r['program_s']:>10.3f} {r['policies_s']:>11.3f} "
            f"{r['cost_s']:>8.3f} {1000 * r['program_s'] / n:>11.2f} {1000 * r['analyze_s'] / n:>14.2f} "
            f"{1000 * r['stack_s'] / n:>12.2f} {1000 * r['cost_s'] / n:>11.3f} {1000 * total / n:>10.2f} "
            f"{r['input_bytes'] / n / 1000:>9.2f} {r['violations']:>10} {r['monthly']:>12,.2f}")
    xs = [r["resources"] for r in rows]
    for phase in ("program_s", "analyze_s", "stack_s", "policies_s", "cost_s"):
        a, b, r2 = _fit(xs, [r[phase] for r in rows])
        out(f"  {phase:<11} ≈ {a:.3f} s + {1000 * b:.3f} ms × resources   (r² {r2:.3f})")
    if len(rows) >= 2 and rows[0]["resources"] != rows[-1]["resources"]:
        small, large = rows[0], rows[-1]
        for phase in ("program_s", "analyze_s", "stack_s", "cost_s"):
            per = [r[phase] / r["resources"] for r in (small, large)]
            ratio = per[1] / per[0] if per[0] else float("inf")
            out(f"  {phase:<11} ms per resource: {1000 * per[0]:.2f} at {small['resources']} resources, "
                f"{1000 * per[1]:.2f} at {large['resources']} ({ratio:.2f}×; "
                f"{'linear' if ratio < 1.5 else 'NOT linear'}: linear growth keeps it flat)")
        kb = [r["input_bytes"] / r["resources"] / 1000 for r in (small, large)]
        out(f"  inputs per resource: {kb[0]:.2f} KB at {small['resources']}, {kb[1]:.2f} KB at "
            f"{large['resources']} ({kb[1] / kb[0]:.2f}×: the phases that decode every input grow with it)")
    if len(set(xs)) == 1:
        out("  note: the resource count does not change with the members (the program is not wired to them)")
    return rows


def pack_figures(project_dir: Path, stack: str, runs: int, out: Callable[[str], None],
                 pack_dir: Path | None = None) -> dict[str, Any]:
    """The pack's start, and its analysis of the stack with and without the fast path."""
    from review.analyzer import PolicyAnalyzer
    from review.cli import _analyzer_resources
    from review.program import run_program
    from review.report import StackSettings, resource_dicts

    pack = pack_dir or project_dir / "policies"
    starts: list[float] = []
    policies = 0
    for _ in range(runs):
        t = time.perf_counter()
        with PolicyAnalyzer(pack) as fresh:
            policies = len(fresh.info().policies)
            starts.append(time.perf_counter() - t)
    run = run_program(project_dir, stack)
    assert run.config is not None
    settings = StackSettings.from_config(run.config, run.outputs)
    resources = _analyzer_resources(run, resource_dicts(run))
    best: dict[str, float] = {}
    verdicts: dict[str, list[Any]] = {}
    for label, extra in (("fast path", {}), ("without it", {"DATA_PLATFORM_POLICY_NO_CACHE": "1"})):
        with PolicyAnalyzer(pack, env={**os.environ, **extra}) as pa:
            pa.configure(None, common=settings.policy_config())
            pa.configure_stack(stack=stack, tags={"environment": settings.environment}, config=run.config.config)
            pa.analyze_stack([])
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                verdicts[label] = pa.analyze_all(resources)
                times.append(time.perf_counter() - t)
            best[label] = min(times)
    out(f"policy pack ({policies} policies):")
    out(f"  start (process → port → GetAnalyzerInfo), {runs} fresh starts: {_stats(starts)} s")
    same = "same violations" if verdicts["fast path"] == verdicts["without it"] else "DIFFERENT violations"
    out(f"  analyze_all of {stack}'s {len(resources)} resources, best of {runs}: fast path "
        f"{best['fast path']:.3f} s, without it {best['without it']:.3f} s "
        f"({best['without it'] / max(best['fast path'], 1e-9):.1f}× faster; {same})")
    return {"starts": starts, "best": best}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m review.bench", description=__doc__.splitlines()[0])
    p.add_argument("--stack", default="production")
    p.add_argument("--runs", type=int, default=7, help="end-to-end rounds (default 7)")
    p.add_argument("--project-dir", type=Path, default=Path(__file__).resolve().parent.parent)
    p.add_argument("--policy-pack", type=Path, default=None, help="default: <project>/policies")
    p.add_argument("--scales", default=",".join(map(str, SCALES)),
                   help=f"member factors (default {','.join(map(str, SCALES))})")
    p.add_argument("--no-scaling", action="store_true")
    p.add_argument("--no-e2e", action="store_true")
    p.add_argument("--no-pack", action="store_true", help="skip the policy pack's start and fast-path figures")
    p.add_argument("--baseline", type=Path, default=None, metavar="DIR",
                   help="another checkout (e.g. `git worktree add /tmp/base <commit>`): its reviews run in the "
                        "same rounds, for a before/after under the same load")
    args = p.parse_args(argv)
    project_dir = args.project_dir.resolve()
    pack = args.policy_pack.resolve() if args.policy_pack else None

    def out(line: str) -> None:
        print(line, flush=True)

    out(f"review bench: stack {args.stack}, {_load()}, python {sys.version.split()[0]}")
    if not args.no_e2e:
        end_to_end(project_dir, args.stack, args.runs, out, pack,
                   args.baseline.resolve() if args.baseline else None)
    if not args.no_scaling:
        out("")
        scaling(project_dir, args.stack, [int(s) for s in args.scales.split(",")], out, pack)
    if not args.no_pack:
        out("")
        pack_figures(project_dir, args.stack, 3, out, pack)
    out(f"done; {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

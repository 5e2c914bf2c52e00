"""Local Prometheus + Alertmanager + exporters + Grafana, configured from the alert catalogue.

``prometheus.yml``, the rule file and ``alertmanager.yml`` come from ``components/render`` —
the same files ``promtool``/``amtool`` check and the integration tier boots. Grafana (published on
127.0.0.1:3000 + offset) is provisioned from files only: Prometheus as its data source and the
dashboards generated from the catalogue (:mod:`components.render.grafana`); its admin password is
a ``pulumi_random`` secret passed in the environment (user ``admin``; the component's
``grafana_admin_password`` output, or ``docker exec <stack>-monitoring-grafana printenv
GF_SECURITY_ADMIN_PASSWORD``). Grafana keeps no volume:
everything it shows is provisioned, and a recreated container comes back identical."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.alerts import Store as AlertStore
from components.docker.container import IMAGES, Healthcheck, LocalContainerSpec, local_container, volume
from components.render.alertmanager import render_alertmanager_config
from components.render.grafana import GRAFANA_ENV, GRAFANA_PORT, grafana_files
from components.render.prometheus import render_prometheus_config, render_rules


@dataclass(frozen=True)
class LocalMonitoringArgs:
    network: docker.Network
    """The local stack's private network."""
    stores: Sequence[AlertStore]
    """Names of the stores whose alert rules are loaded (postgres, redis, graph, vector)."""
    scrape_targets: Mapping[str, Sequence[str]]
    """Scrape jobs of the data stores' own endpoints (job -> host:port)."""
    postgres_dsns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Member -> DSN (a secret, as a pg_monitor role): one PostgreSQL exporter per member, so the
    replicas' lag and the primary's replication are both seen. Default: no exporter."""
    redis_addr: str | None = None
    """``redis://host:port`` of one cluster node for the Redis exporter. Default: no exporter."""
    redis_user: str = "monitor_user"
    """The Redis exporter's ACL user (INFO and a few read-only commands). Default: monitor_user."""
    redis_password: pulumi.Input[str] | None = None
    """Password of ``redis_user`` (a secret)."""
    bearer_tokens: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Job -> token Prometheus sends as ``Authorization: Bearer`` (a secret, uploaded as a file
    read at every scrape; e.g. Qdrant's read-only API key). Default: none."""
    evaluation_interval_seconds: int = 30
    """Rule evaluation interval. Default: 30."""
    metrics_paths: Mapping[str, str] = field(default_factory=dict)
    """Job -> metrics path where it is not /metrics. Default: none."""
    port_offset: int = 0
    """Added to published ports (9090, 9093, 3000). Default: 0."""
    grafana: bool = True
    """Run Grafana with the generated dashboards. Default: True."""


class LocalMonitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: LocalMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("data-platform:docker:LocalMonitoring", name, None, opts)
        targets = {k: list(v) for k, v in args.scrape_targets.items()}
        tokens = {job: t for job, t in args.bearer_tokens.items() if job in targets}
        exporters: list[docker.Container] = []
        for member, dsn in args.postgres_dsns.items():
            exporter = f"{name}-postgres-exporter-{member}"
            exporters.append(local_container(LocalContainerSpec(
                name=exporter, image=IMAGES["postgres-exporter"],
                healthcheck=Healthcheck(("CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:9187/metrics")),
                envs={"DATA_SOURCE_NAME": dsn}, memory_mb=64), args.network, parent=self))
            targets.setdefault("postgres", []).append(f"{exporter}:9187")
        if args.redis_addr is not None:
            # CONFIG GET is withheld from the monitoring user (it would reveal masterauth).
            envs: dict[str, pulumi.Input[str]] = {"REDIS_ADDR": args.redis_addr, "REDIS_USER": args.redis_user,
                                                  "REDIS_EXPORTER_CONFIG_COMMAND": "-"}
            if args.redis_password is not None:
                envs["REDIS_PASSWORD"] = args.redis_password
            exporters.append(local_container(LocalContainerSpec(
                name=f"{name}-redis-exporter", image=IMAGES["redis-exporter"],
                healthcheck=Healthcheck(("CMD", "/redis_exporter", "--version")),
                envs=envs, memory_mb=64), args.network, parent=self))
            targets["redis"] = [f"{name}-redis-exporter:9121"]
        alertmanager = local_container(LocalContainerSpec(
            name=f"{name}-alertmanager", image=IMAGES["alertmanager"],
            healthcheck=Healthcheck(("CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9093/-/ready")),
            ports={9093: 9093 + args.port_offset},
            files={"/etc/alertmanager/alertmanager.yml": render_alertmanager_config()},
            memory_mb=128,
        ), args.network, parent=self)
        prometheus = local_container(LocalContainerSpec(
            name=f"{name}-prometheus", image=IMAGES["prometheus"],
            healthcheck=Healthcheck(("CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/-/ready")),
            ports={9090: 9090 + args.port_offset},
            files={
                **prometheus_files(targets, stores=args.stores, alertmanagers=[f"{name}-alertmanager:9093"],
                                   evaluation_interval_seconds=args.evaluation_interval_seconds,
                                   metrics_paths=args.metrics_paths, token_jobs=list(tokens)),
                **{token_file(job): token for job, token in tokens.items()},
            },
            volumes={f"{name}-prometheus-data": "/prometheus"},
            memory_mb=512,
        ), args.network, parent=self,
            depends_on=[alertmanager, *exporters, volume(f"{name}-prometheus-data", parent=self)])
        outputs: dict[str, pulumi.Input[str]] = {"prometheus": prometheus.name, "alertmanager": alertmanager.name}
        if args.grafana:
            grafana, password = local_grafana(name, args.network, prometheus=f"{name}-prometheus:9090",
                                              port_offset=args.port_offset, parent=self, depends_on=[prometheus])
            self.grafana_admin_password: pulumi.Output[str] | None = password
            outputs |= {"grafana": grafana.name, "grafana_admin_password": password}
        else:
            self.grafana_admin_password = None
        self.register_outputs(outputs)


def local_grafana(name: str, network: docker.Network, *, prometheus: str, port_offset: int,
                  parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
                  ) -> tuple[docker.Container, pulumi.Output[str]]:
    """Grafana on 127.0.0.1:3000 (+ offset), provisioned with Prometheus (``prometheus``: host:port
    on the stack network) and the generated dashboards; returns the container and the admin password
    (a secret)."""
    password = random.RandomPassword(f"{name}-grafana-admin-password", length=32, special=False,
                                     opts=pulumi.ResourceOptions(parent=parent))
    secret = _secret(password.result)  # explicitly: the mock runtime ignores provider-side secrets
    container = local_container(LocalContainerSpec(
        name=f"{name}-grafana", image=IMAGES["grafana"],
        healthcheck=Healthcheck(("CMD", "wget", "-q", "-O", "/dev/null",
                                 f"http://127.0.0.1:{GRAFANA_PORT}/api/health")),
        ports={GRAFANA_PORT: GRAFANA_PORT + port_offset},
        envs={**GRAFANA_ENV, "GF_SERVER_HTTP_ADDR": "0.0.0.0",
              "GF_SERVER_ROOT_URL": f"http://127.0.0.1:{GRAFANA_PORT + port_offset}/",
              "GF_SECURITY_ADMIN_PASSWORD": secret},
        files=grafana_files(f"http://{prometheus}"),
        memory_mb=256,
        wait_timeout=120,
    ), network, parent=parent, depends_on=list(depends_on))
    return container, secret


#: The prom/prometheus image's CMD: config and TSDB paths (the container sets no command).
PROMETHEUS_IMAGE_CMD = ("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus")
PROMETHEUS_CONF_DIR = "/etc/prometheus"


def token_file(job: str, conf_dir: str = PROMETHEUS_CONF_DIR) -> str:
    """Where Prometheus reads the bearer token of ``job``."""
    return f"{conf_dir}/secrets/{job}-token"


def prometheus_files(targets: Mapping[str, Sequence[str]], *, stores: Sequence[AlertStore],
                     alertmanagers: Sequence[str], evaluation_interval_seconds: int,
                     metrics_paths: Mapping[str, str], token_jobs: Sequence[str],
                     conf_dir: str = PROMETHEUS_CONF_DIR) -> dict[str, str]:
    """prometheus.yml and rules.yml (``{path: text}``); the token files themselves are secrets the
    caller adds at :func:`token_file`."""
    return {
        f"{conf_dir}/prometheus.yml": render_prometheus_config(
            targets, evaluation_interval_seconds=evaluation_interval_seconds, alertmanager_targets=alertmanagers,
            rule_files=["rules.yml"], metrics_paths={k: v for k, v in metrics_paths.items() if k in targets},
            bearer_token_files={job: token_file(job, conf_dir) for job in token_jobs} or None),
        f"{conf_dir}/rules.yml": render_rules(stores=stores),
    }


def _secret(value: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.secret(value)

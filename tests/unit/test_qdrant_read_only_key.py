"""Issue 17 item 4: Qdrant's admin key and read-only key (``service.read_only_api_key``), both in Secrets Manager and
in the peers' config on EKS and EC2; the in-cluster Prometheus scrapes with the read-only key, never the admin key."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pulumi
import pytest
import yaml
from placement_kit import KEY, eks_cluster, placement_of

from components.aws.vector import Vector, VectorArgs
from components.aws.workload import GENERATED_SECRET_ROTATION_REASON
from components.render.qdrant import READ_ONLY_API_KEY_ENV, render_api_keys_config, render_qdrant_config
from review.mocks import RecordedResource
from review.program import ProgramRun, record, run_program

ROOT = Path(__file__).resolve().parents[2]
SM = "aws:secretsmanager/secret:Secret"
SV = "aws:secretsmanager/secretVersion:SecretVersion"
ADMIN, READ_ONLY = "AdminKey0123456789abcdef", "ReadOnlyKey0123456789abc"


def _named(run: ProgramRun, type_: str, name: str) -> RecordedResource:
    (r,) = [r for r in run.by_type(type_) if r.name == name]
    return r


# ---- rendered -----------------------------------------------------------------------------------------------


def test_keys_config_has_both_keys_under_service() -> None:
    """Key names as in Qdrant's own config/config.yaml (section ``service``: ``api_key``, ``read_only_api_key``)."""
    assert yaml.safe_load(render_api_keys_config(ADMIN, READ_ONLY)) == {
        "service": {"api_key": ADMIN, "read_only_api_key": READ_ONLY}}


@pytest.mark.parametrize(("admin", "read_only", "match"), [
    (ADMIN, ADMIN, "must differ"),
    (ADMIN, "short", "at least 16"),
    ("Admin key with spaces 1234", READ_ONLY, "letters and digits"),
])
def test_keys_config_refuses(admin: str, read_only: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        render_api_keys_config(admin, read_only)


def test_main_config_never_holds_a_key() -> None:
    service = yaml.safe_load(render_qdrant_config())["service"]
    assert "api_key" not in service and "read_only_api_key" not in service


# ---- the component ------------------------------------------------------------------------------------------


def _vector(placement: str) -> ProgramRun:
    def program() -> None:
        where = placement_of(placement, eks_cluster("vector") if placement == "eks" else None,
                             app_security_group_id=None)
        v = Vector("vector", VectorArgs(backup_bucket_name="b", backup_kms_key_arn=KEY + "s3",
                                        secrets_kms_key_arn=KEY + "secrets", placement=where))
        pulumi.export("read_only", v.read_only_api_key)
        pulumi.export("read_only_revealed", pulumi.Output.unsecret(v.read_only_api_key))

    run = record(program, stack="production")
    assert run.error is None, run.error
    return run


@pytest.fixture(scope="module")
def eks() -> ProgramRun:
    return _vector("eks")


@pytest.fixture(scope="module")
def ec2() -> ProgramRun:
    return _vector("ec2")


@pytest.mark.parametrize("placement", ["eks", "ec2"])
def test_read_only_key_has_its_own_secret(placement: str, eks: ProgramRun, ec2: ProgramRun) -> None:
    run = eks if placement == "eks" else ec2
    sm = _named(run, SM, "vector-read-only-api-key")
    assert sm.inputs["namePrefix"] == "data-platform-production/vector/qdrant-read-only-api-key-"
    assert sm.inputs["kmsKeyId"] == KEY + "secrets"
    assert sm.inputs["tags"] == {"rotation-exempt": GENERATED_SECRET_ROTATION_REASON}
    ro = _named(run, SV, "vector-read-only-api-key").raw_inputs["secretString"]
    admin = _named(run, SV, "vector-api-key").raw_inputs["secretString"]
    assert ro and ro != admin
    assert _named(run, "random:index/randomPassword:RandomPassword", "vector-read-only-api-key").inputs == {
        "length": 48, "special": False}
    assert run.outputs["read_only"] == "[secret]" and run.outputs["read_only_revealed"] == ro


def test_eks_peers_get_both_keys_from_the_secret(eks: ProgramRun) -> None:
    sec = _named(eks, "kubernetes:core/v1:Secret", "vector-api-key")
    assert sec.inputs["stringData"] == "[secret]"
    ro = _named(eks, SV, "vector-read-only-api-key").raw_inputs["secretString"]
    admin = _named(eks, SV, "vector-api-key").raw_inputs["secretString"]
    assert sec.raw_inputs["stringData"] == {"api-key": admin,
                                            "api-key.yaml": render_api_keys_config(admin, ro)}
    (cm,) = eks.by_type("kubernetes:core/v1:ConfigMap")
    assert ro not in json.dumps(cm.inputs) and admin not in json.dumps(cm.inputs)


def test_ec2_peers_read_both_keys_at_boot(ec2: ProgramRun, tmp_path: Path) -> None:
    ro = _named(ec2, SV, "vector-read-only-api-key").raw_inputs["secretString"]
    (pol,) = ec2.by_type("aws:iam/rolePolicy:RolePolicy")
    read = next(s for s in json.loads(pol.inputs["policy"])["Statement"] if s["Sid"] == "ReadOwnSecret")
    assert len(read["Resource"]) == 2
    admin_arn, ro_arn = read["Resource"]
    assert "/vector/qdrant-api-key-" in admin_arn and "/vector/qdrant-read-only-api-key-" in ro_arn
    for inst in ec2.by_type("aws:ec2/instance:Instance"):
        assert ro not in inst.inputs["userData"]
        ud = yaml.safe_load(inst.inputs["userData"])
        unit = next(f["content"] for f in ud["write_files"] if f["path"] == "/etc/systemd/system/qdrant.service")
        assert f" -e {READ_ONLY_API_KEY_ENV} " in unit and "EnvironmentFile=/etc/qdrant/api-key.env" in unit
        (fetch,) = [c for c in ud["runcmd"] if isinstance(c, str) and "api-key.env" in c]
        # run the boot step with a fake AWS CLI that answers each secret id with its own value
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        aws = bin_dir / "aws"
        aws.write_text(f'#!/bin/bash\ncase "$*" in *{admin_arn}*) echo AdminValue;; *{ro_arn}*) echo RoValue;; '
                       '*) exit 9;; esac\n')
        aws.chmod(aws.stat().st_mode | stat.S_IEXEC)
        target = tmp_path / "api-key.env"
        proc = subprocess.run(["sh", "-c", fetch.replace("/etc/qdrant/api-key.env", str(target))], check=False,
                              env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, capture_output=True,
                              text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert target.read_text() == (f"QDRANT__SERVICE__API_KEY=AdminValue\n{READ_ONLY_API_KEY_ENV}=RoValue\n")
        assert oct(target.stat().st_mode & 0o777) == "0o600"
        target.unlink()


# ---- the stack: the scrape uses the read-only key ------------------------------------------------------------


def test_production_prometheus_scrapes_with_the_read_only_key() -> None:
    run = run_program(ROOT, "production")
    assert run.error is None, run.error
    ro = _named(run, SV, "vector-read-only-api-key").raw_inputs["secretString"]
    admin = _named(run, SV, "vector-api-key").raw_inputs["secretString"]
    scrape = next(r for r in run.by_type("kubernetes:core/v1:Secret")
                  if r.inputs["metadata"]["name"] == "prometheus-qdrant-api-key")
    assert scrape.raw_inputs["stringData"] == {"qdrant-read-only-api-key": ro}
    assert admin not in json.dumps(scrape.raw_inputs)
    prom = yaml.safe_load(next(r for r in run.by_type("kubernetes:core/v1:ConfigMap")
                               if r.inputs["metadata"]["name"] == "prometheus-config").inputs["data"]["prometheus.yml"])
    qdrant = next(j for j in prom["scrape_configs"] if j["job_name"] == "qdrant")
    assert qdrant["authorization"]["credentials_file"] == "/etc/prometheus/secrets/qdrant-read-only-api-key"

"""Issue 17 item 3: Neo4j reader/editor/admin logins (Enterprise), created at first start from one Secrets Manager
secret, on EKS (a Job) and on EC2 (cloud-init of the first primary); Community has none and the review says so."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from placement_kit import KEY, eks_cluster, placement_of

from components.aws.graph import NEO4J_USERS_ROTATION_REASON, Graph, GraphArgs
from components.render.neo4j import render_neo4j_users_cypher, render_neo4j_users_script
from infra.settings import load_settings
from infra.topology import build_topology
from review.mocks import RecordedResource
from review.program import ProgramRun, record

SM = "aws:secretsmanager/secret:Secret"
SV = "aws:secretsmanager/secretVersion:SecretVersion"
JOB = "kubernetes:batch/v1:Job"
USERS = ["readonly_user", "app_user", "admin_user"]

EXPECTED_CYPHER = """\
// Neo4j users and roles (rendered by data-platform). Run on the system database as neo4j;
// passwords are parameters set by the runner from Secrets Manager, never literals here.
CREATE USER readonly_user IF NOT EXISTS SET PASSWORD $readonly_user_password CHANGE NOT REQUIRED;
GRANT ROLE reader TO readonly_user;
CREATE USER app_user IF NOT EXISTS SET PASSWORD $app_user_password CHANGE NOT REQUIRED;
GRANT ROLE editor TO app_user;
CREATE USER admin_user IF NOT EXISTS SET PASSWORD $admin_user_password CHANGE NOT REQUIRED;
GRANT ROLE admin TO admin_user;
"""


# ---- rendered Cypher and runner ---------------------------------------------------------------------------


def test_users_cypher_text() -> None:
    assert render_neo4j_users_cypher() == EXPECTED_CYPHER


@pytest.mark.parametrize(("users", "match"), [
    ({"app_user": "admin"}, "never admin"),
    ({"readonly_user": "superuser"}, "role 'superuser'"),
    ({"App-User": "reader"}, "lower-case"),
    ({}, "at least one"),
])
def test_users_cypher_refuses(users: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        render_neo4j_users_cypher(users)


def _fake_cypher_shell(bin_dir: Path, log: Path) -> None:
    """A cypher-shell that records its argv, NEO4J_USERNAME/NEO4J_PASSWORD and standard input."""
    script = bin_dir / "cypher-shell"
    script.write_text(f"""#!/bin/bash
{{ echo "ARGV $*"; echo "USER $NEO4J_USERNAME"; echo "PASS $NEO4J_PASSWORD"; \
if [ -t 0 ] || [ "$*" = "-a neo4j://db:7687 -d system --non-interactive SHOW CURRENT USER" ]; then :; \
else echo "STDIN"; cat; fi; }} >> {log}
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def _run_users_script(tmp_path: Path, passwords: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir, users = tmp_path / "bin", tmp_path / "users"
    bin_dir.mkdir()
    users.mkdir()
    log = tmp_path / "log"
    log.touch()
    _fake_cypher_shell(bin_dir, log)
    for user, pw in passwords.items():
        (users / user).write_text(pw)
    (tmp_path / "auth").write_text("neo4j/NeoAdminPw123")
    (tmp_path / "users.cypher").write_text(EXPECTED_CYPHER)
    (tmp_path / "dp-neo4j-users").write_text(render_neo4j_users_script())
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "NEO4J_URI": "neo4j://db:7687",
           "NEO4J_AUTH_FILE": str(tmp_path / "auth"), "NEO4J_USERS_DIR": str(users),
           "NEO4J_USERS_CYPHER": str(tmp_path / "users.cypher"), "NEO4J_WAIT_SECONDS": "5"}
    proc = subprocess.run(["bash", str(tmp_path / "dp-neo4j-users")], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    return proc, log.read_text()


def test_users_script_sends_passwords_as_parameters_on_stdin(tmp_path: Path) -> None:
    passwords = {"admin_user": "Adm1nPw", "app_user": "AppPw42", "readonly_user": "RoPw777"}
    proc, log = _run_users_script(tmp_path, passwords)
    assert proc.returncode == 0, proc.stderr
    argv = [line for line in log.splitlines() if line.startswith("ARGV")]
    assert argv == ["ARGV -a neo4j://db:7687 -d system --non-interactive SHOW CURRENT USER",
                    "ARGV -a neo4j://db:7687 -d system --non-interactive --fail-fast"]
    assert all(pw not in line for line in argv for pw in [*passwords.values(), "NeoAdminPw123"])
    assert "USER neo4j" in log and "PASS NeoAdminPw123" in log  # the neo4j/ prefix of NEO4J_AUTH is dropped
    stdin = log.split("STDIN\n", 1)[1]
    assert stdin.splitlines()[0] == (
        ":param {admin_user_password: 'Adm1nPw', app_user_password: 'AppPw42', readonly_user_password: 'RoPw777'}")
    assert stdin.endswith(EXPECTED_CYPHER)


def test_users_script_refuses_a_password_that_could_break_the_literal(tmp_path: Path) -> None:
    proc, log = _run_users_script(tmp_path, {"app_user": "x' OR 1=1 //"})
    assert proc.returncode != 0 and "not letters and digits" in proc.stderr
    assert "STDIN" not in log


# ---- the component ----------------------------------------------------------------------------------------


def _graph(placement: str, license_agreement: str = "yes", **kw: Any) -> ProgramRun:
    def program() -> None:
        where = placement_of(placement, eks_cluster("graph") if placement == "eks" else None,
                             app_security_group_id=None)
        g = Graph("graph", GraphArgs(backup_bucket_name="b", backup_kms_key_arn=KEY + "s3",
                                     secrets_kms_key_arn=KEY + "secrets", placement=where,
                                     license_agreement=license_agreement, **kw))  # type: ignore[arg-type]
        pulumi.export("users", g.users)

    run = record(program, stack="production")
    assert run.error is None, run.error
    return run


@pytest.fixture(scope="module")
def eks() -> ProgramRun:
    return _graph("eks")


@pytest.fixture(scope="module")
def ec2() -> ProgramRun:
    return _graph("ec2")


def _named(run: ProgramRun, type_: str, name: str) -> RecordedResource:
    (r,) = [r for r in run.by_type(type_) if r.name == name]
    return r


@pytest.mark.parametrize("placement", ["eks", "ec2"])
def test_one_secret_holds_every_login_password(placement: str, eks: ProgramRun, ec2: ProgramRun) -> None:
    run = eks if placement == "eks" else ec2
    assert run.outputs["users"] == {"readonly_user": "reader", "app_user": "editor", "admin_user": "admin"}
    sm = _named(run, SM, "graph-users")
    assert sm.inputs["namePrefix"] == "data-platform-production/graph/neo4j-users-"
    assert sm.inputs["kmsKeyId"] == KEY + "secrets" and sm.inputs["recoveryWindowInDays"] == 30
    assert sm.inputs["tags"] == {"rotation-exempt": NEO4J_USERS_ROTATION_REASON}
    ver = _named(run, SV, "graph-users")
    assert ver.inputs["secretString"] == "[secret]"
    doc = json.loads(ver.raw_inputs["secretString"])
    assert list(doc) == USERS and all(len(pw) == 32 and pw.isalnum() for pw in doc.values())
    assert len(set(doc.values())) == 3


def test_eks_users_job(eks: ProgramRun) -> None:
    doc = json.loads(_named(eks, SV, "graph-users").raw_inputs["secretString"])
    secret = _named(eks, "kubernetes:core/v1:Secret", "graph-users")
    assert secret.inputs["stringData"] == "[secret]" and secret.raw_inputs["stringData"] == doc
    cm = _named(eks, "kubernetes:core/v1:ConfigMap", "graph-users")
    assert cm.inputs["data"] == {"users.cypher": EXPECTED_CYPHER, "dp-neo4j-users": render_neo4j_users_script()}
    assert not any(pw in json.dumps(cm.inputs) for pw in doc.values())
    job = _named(eks, JOB, "graph-users")
    pod = job.inputs["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "neo4j:5.26.12-enterprise"
    assert c["command"] == ["bash", "/etc/neo4j-users/dp-neo4j-users"]
    assert {e["name"]: e["value"] for e in c["env"]} == {
        "NEO4J_URI": "neo4j://graph-bolt.graph.svc.cluster.local:7687",
        "NEO4J_AUTH_FILE": "/var/run/secrets/neo4j/NEO4J_AUTH", "NEO4J_USERS_DIR": "/var/run/secrets/neo4j-users",
        "NEO4J_USERS_CYPHER": "/etc/neo4j-users/users.cypher", "NEO4J_WAIT_SECONDS": "1500", "HOME": "/tmp"}
    assert {v["name"]: v.get("secret", {}).get("secretName") for v in pod["volumes"]} == {
        "auth": "graph-auth", "users": "graph-users", "config": None, "tmp": None}
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "OnFailure"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    # it runs once the members are up (Pulumi awaits the StatefulSets before creating the Job)
    sets = {r.urn for r in eks.by_type("kubernetes:apps/v1:StatefulSet")}
    assert len(sets) == 5 and sets <= set(job.dependencies)


def test_eks_network_policy_admits_the_users_job_on_bolt_only(eks: ProgramRun) -> None:
    (pol,) = eks.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    rules = [r for r in pol.inputs["spec"]["ingress"]
             if r["from"][0].get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
             == "graph-users"]
    assert [[p["port"] for p in r["ports"]] for r in rules] == [[7687]]


def test_ec2_first_primary_creates_the_logins_from_secrets_manager(ec2: ProgramRun) -> None:
    doc = json.loads(_named(ec2, SV, "graph-users").raw_inputs["secretString"])
    arns: list[str] = []
    for inst in ec2.by_type("aws:ec2/instance:Instance"):
        ud = yaml.safe_load(inst.inputs["userData"])
        files = {f["path"]: f["content"] for f in ud["write_files"]}
        assert not any(pw in inst.inputs["userData"] for pw in doc.values())
        if inst.name != "graph-primary-1":
            assert "/etc/data-platform/users.cypher" not in files
            continue
        assert files["/etc/data-platform/users.cypher"] == EXPECTED_CYPHER
        assert files["/usr/local/sbin/dp-neo4j-users"] == render_neo4j_users_script()
        assert "neo4j://localhost:7687" in files["/usr/local/sbin/dp-neo4j-users-ec2"]
        run = ud["runcmd"]
        script, *arns = run[-1]
        assert script == "/usr/local/sbin/dp-neo4j-users-ec2"
        prefix = "arn:aws:secretsmanager:us-east-1:123456789012:secret:data-platform-production/graph/"
        assert [a.startswith(prefix + p) for a, p in zip(arns, ("neo4j-password-", "neo4j-users-"), strict=True)] \
            == [True, True]
        assert run.index(["systemctl", "enable", "--now", "neo4j"]) < run.index(run[-1])
    (pol,) = ec2.by_type("aws:iam/rolePolicy:RolePolicy")
    read = next(s for s in json.loads(pol.inputs["policy"])["Statement"] if s["Sid"] == "ReadOwnSecret")
    assert read["Resource"] == arns


@pytest.mark.parametrize("placement", ["eks", "ec2"])
def test_community_has_no_logins(placement: str) -> None:
    run = _graph(placement, license_agreement="no", primaries=1, secondaries=0)
    assert run.outputs["users"] == {}
    assert [r.name for r in run.by_type(SM)] == ["graph-password"]
    assert run.by_type(JOB) == []
    assert "users.cypher" not in json.dumps([r.inputs for r in run.resources])


def test_the_review_notes_that_community_has_no_rbac() -> None:
    def notes(licence: str) -> tuple[str, ...]:
        return build_topology(load_settings("dev", {"aws:region": "us-east-1", "data-platform:environment": "dev",
                                                    "data-platform:graph": {"licenseAgreement": licence}})).notes

    assert any("no role-based access control" in n and "'neo4j' with full rights" in n for n in notes("no"))
    assert not any("role-based access control" in n for n in notes("eval"))

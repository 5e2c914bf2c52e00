"""``Vector`` (Qdrant) under the recording mock runtime, on EKS and on EC2."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
import yaml
from placement_kit import AZS, KEY, eks_cluster, placement_of

from components.aws.eks import EksCluster
from components.aws.vector import TYPE_TOKEN, Vector, VectorArgs, validate_vector_args
from components.aws.workload import AWS_CLI_IMAGE
from components.base import ArgsError
from review.mocks import RecordedResource
from review.program import ProgramRun, record

STS = "kubernetes:apps/v1:StatefulSet"


def _args(cluster: EksCluster | None, placement: str = "eks", ec2: dict[str, Any] | None = None,
          **kw: Any) -> VectorArgs:
    where = placement_of(placement, cluster, **(ec2 or {}))
    base: dict[str, Any] = {
        "backup_bucket_name": "dp-vector-backups", "backup_kms_key_arn": KEY + "backup",
        "secrets_kms_key_arn": KEY + "secrets", "placement": where, "protect": True,
    }
    return VectorArgs(**{**base, **kw})


def _run(placement: str, **kw: Any) -> ProgramRun:
    def program() -> None:
        cluster = eks_cluster("vector") if placement == "eks" else None
        v = Vector("vector", _args(cluster, placement=placement, **kw))
        pulumi.export("vector", {"endpoint": v.endpoint, "members": v.members, "role": v.backup_role_arn,
                                 "sg": v.security_group_id})

    run = record(program, stack="production")
    assert run.error is None, run.error
    return run


def _children(run: ProgramRun) -> list[RecordedResource]:
    comp = next(r for r in run.resources if r.type == TYPE_TOKEN)
    return [r for r in run.resources if r.parent == comp.urn]


@pytest.fixture(scope="module")
def eks() -> ProgramRun:
    return _run("eks")


@pytest.fixture(scope="module")
def ec2() -> ProgramRun:
    return _run("ec2")


def test_eks_statefulset(eks: ProgramRun) -> None:
    (s,) = eks.by_type(STS)
    spec = s.inputs["spec"]
    assert spec["replicas"] == 3 and spec["podManagementPolicy"] == "Parallel"
    assert spec["serviceName"] == "vector-headless"
    assert s.protect and s.retain_on_delete
    pod = spec["template"]["spec"]
    (c,) = pod["containers"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsUser"] == 1000 and pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
    assert pod["nodeSelector"] == {"workload": "vector"}
    assert {t["topologyKey"] for t in pod["topologySpreadConstraints"]} >= {"topology.kubernetes.io/zone"}
    assert spec["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "encrypted-gp3"


def test_eks_api_key_is_a_file_not_an_env_var(eks: ProgramRun) -> None:
    """The API key reaches the peers as a second config file (Qdrant merges ``--config-path`` over
    config/production.yaml) and the snapshot job as a file; no container takes it from the environment."""
    (s,) = eks.by_type(STS)
    pod = s.inputs["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert not [e for e in c["env"] if "valueFrom" in e]
    assert "QDRANT__SERVICE__API_KEY" not in {e["name"] for e in c["env"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["api-key"]["secret"] == {"secretName": "vector-api-key", "defaultMode": 0o440,
                                         "items": [{"key": "api-key.yaml", "path": "api-key.yaml"}]}
    assert {"name": "api-key", "mountPath": "/qdrant/secrets", "readOnly": True} in c["volumeMounts"]
    (cm,) = eks.by_type("kubernetes:core/v1:ConfigMap")
    start = cm.inputs["data"]["start.sh"]
    assert 'key=(--config-path "/qdrant/secrets/api-key.yaml")' in start
    assert start.count('"${key[@]}"') == 2
    (sec,) = eks.by_type("kubernetes:core/v1:Secret")
    key = sec.raw_inputs["stringData"]["api-key"]
    read_only = _named(eks, "aws:secretsmanager/secretVersion:SecretVersion", "vector-read-only-api-key")
    assert yaml.safe_load(sec.raw_inputs["stringData"]["api-key.yaml"]) == {
        "service": {"api_key": key, "read_only_api_key": read_only.raw_inputs["secretString"]}}
    (cj,) = eks.by_type("kubernetes:batch/v1:CronJob")
    job = cj.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (jc,) = job["containers"]
    env = {e["name"]: e for e in jc["env"]}
    assert env["QDRANT_API_KEY_FILE"] == {"name": "QDRANT_API_KEY_FILE", "value": "/var/run/secrets/qdrant/api-key"}
    assert not [e for e in jc["env"] if "valueFrom" in e]
    assert {v["name"]: v for v in job["volumes"]}["api-key"]["secret"]["items"] == [
        {"key": "api-key", "path": "api-key"}]
    assert 'QDRANT__SERVICE__API_KEY="$(cat "$QDRANT_API_KEY_FILE")"' in jc["command"][-1]


def test_eks_snapshot_job_hardened(eks: ProgramRun) -> None:
    """Read-only root (scratch in the claim, /tmp and $HOME emptyDirs), no API token: IRSA's web-identity
    token is a projected volume the EKS pod identity webhook adds on its own."""
    (cj,) = eks.by_type("kubernetes:batch/v1:CronJob")
    job = cj.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert job["automountServiceAccountToken"] is False
    assert job["serviceAccountName"] == "vector-snapshot"
    assert job["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (jc,) = job["containers"]
    assert jc["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in jc["volumeMounts"]
    assert {v["name"]: v for v in job["volumes"]}["tmp"] == {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}


def test_eks_config_and_bootstrap(eks: ProgramRun) -> None:
    (cm,) = eks.by_type("kubernetes:core/v1:ConfigMap")
    doc = yaml.safe_load(cm.inputs["data"]["production.yaml"])
    assert doc["cluster"]["enabled"] is True and doc["cluster"]["p2p"]["port"] == 6335
    assert doc["storage"]["collection"]["replication_factor"] == 2
    assert doc["storage"]["collection"]["write_consistency_factor"] == 1
    assert "api_key" not in doc["service"]
    start = cm.inputs["data"]["start.sh"]
    assert '--uri "$self"' in start
    assert "--bootstrap \"http://vector-0.vector-headless.vector.svc.cluster.local:6335\"" in start


def test_eks_pdb_and_network_policy(eks: ProgramRun) -> None:
    (pdb,) = eks.by_type("kubernetes:policy/v1:PodDisruptionBudget")
    assert pdb.inputs["spec"]["maxUnavailable"] == 1
    (np_,) = eks.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    rules = np_.inputs["spec"]["ingress"]
    app = rules[0]
    assert app["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "app"}
    assert {p["port"] for p in app["ports"]} == {6333, 6334}
    for rule in rules:  # P2P only from the peers themselves
        if 6335 in {p["port"] for p in rule["ports"]}:
            assert rule["from"] == [{"podSelector": {"matchLabels": {
                "app.kubernetes.io/name": "vector", "app.kubernetes.io/part-of": "data-platform"}}}]


def test_eks_snapshot_every_six_hours(eks: ProgramRun) -> None:
    (cj,) = eks.by_type("kubernetes:batch/v1:CronJob")
    assert cj.inputs["spec"]["schedule"] == "0 */6 * * *"
    pod = cj.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["BACKUP_BUCKET"] == "dp-vector-backups" and env["BACKUP_KMS_KEY_ARN"] == KEY + "backup"
    assert len(env["QDRANT_PEER_URLS"].split()) == 3
    (sa,) = eks.by_type("kubernetes:core/v1:ServiceAccount")
    assert sa.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == eks.outputs["vector"]["role"]


def test_eks_snapshot_cli_has_a_writable_home(eks: ProgramRun) -> None:
    """As uid 1000 without a home the AWS CLI fails on '/.aws' (aws-cli #9075): HOME is an emptyDir."""
    (cj,) = eks.by_type("kubernetes:batch/v1:CronJob")
    pod = cj.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 1000
    (snap,) = pod["containers"]
    assert snap["image"] == AWS_CLI_IMAGE
    home = {e["name"]: e.get("value") for e in snap["env"]}["HOME"]
    mount = next(m for m in snap["volumeMounts"] if m["mountPath"] == home)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" in volume and not mount.get("readOnly")


def test_eks_snapshots_stay_off_the_node_disk(eks: ProgramRun) -> None:
    """Snapshots were a 100 GiB emptyDir in the serving pod (and another in the job) on 50 GiB node roots:
    eviction once collections grow. Qdrant builds every snapshot archive in storage/tmp on the data volume
    anyway, so the finished snapshot stays on that volume (snapshots_path under the storage mount, created
    by Qdrant itself); the job downloads into a claim of the encrypted StorageClass."""
    (s,) = eks.by_type(STS)
    pod = s.inputs["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    (cm,) = eks.by_type("kubernetes:core/v1:ConfigMap")
    doc = yaml.safe_load(cm.inputs["data"]["production.yaml"])
    assert doc["storage"]["storage_path"] == "/qdrant/storage" and mounts["/qdrant/storage"] == "storage"
    assert doc["storage"]["snapshots_path"].startswith("/qdrant/storage/")
    assert "/qdrant/snapshots" not in mounts
    assert [v["name"] for v in pod["volumes"] if "emptyDir" in v and "sizeLimit" in v["emptyDir"]] == []
    (cj,) = eks.by_type("kubernetes:batch/v1:CronJob")
    job = cj.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    vols = {v["name"]: v for v in job["volumes"]}
    assert vols["work"] == {"name": "work", "persistentVolumeClaim": {"claimName": "vector-snapshot-scratch"}}
    assert all(v["emptyDir"].get("sizeLimit", "0Mi").endswith("Mi") for v in vols.values() if "emptyDir" in v)
    (pvc,) = eks.by_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert pvc.inputs["metadata"] == {"name": "vector-snapshot-scratch", "namespace": "vector",
                                      "labels": pvc.inputs["metadata"]["labels"]}
    assert pvc.inputs["spec"] == {"accessModes": ["ReadWriteOnce"], "storageClassName": "encrypted-gp3",
                                  "resources": {"requests": {"storage": "100Gi"}}}


def test_ec2_snapshots_on_the_data_volume(ec2: ProgramRun) -> None:
    """On EC2 the job's work directory defaulted to /tmp, a tmpfs of half the RAM on AL2023: a snapshot
    larger than that fails, and filling it takes memory from Qdrant. It is on the data volume instead."""
    for inst in ec2.by_type("aws:ec2/instance:Instance"):
        doc = yaml.safe_load(inst.inputs["userData"])
        files = {f["path"]: f["content"] for f in doc["write_files"]}
        env = dict(line.split("=", 1) for line in files["/etc/qdrant/backup.env"].splitlines())
        assert env["SNAPSHOT_WORK_DIR"].startswith("/var/lib/qdrant/")  # the data volume's mount point
        conf = yaml.safe_load(files["/etc/qdrant/production.yaml"])
        unit = files["/etc/systemd/system/qdrant.service"]
        assert "-v /var/lib/qdrant/storage:/qdrant/storage " in unit
        assert conf["storage"]["snapshots_path"].startswith("/qdrant/storage/")


def _named(run: ProgramRun, type_: str, name: str) -> Any:
    (r,) = [r for r in run.by_type(type_) if r.name == name]
    return r


def test_eks_api_key_stays_secret(eks: ProgramRun) -> None:
    (sec,) = eks.by_type("kubernetes:core/v1:Secret")
    ver = _named(eks, "aws:secretsmanager/secretVersion:SecretVersion", "vector-api-key")
    assert sec.inputs["stringData"] == "[secret]" and ver.inputs["secretString"] == "[secret]"
    assert sec.raw_inputs["stringData"]["api-key"] == ver.raw_inputs["secretString"]


@pytest.mark.parametrize("placement", ["eks", "ec2"])
def test_api_key_secret_name_is_a_prefix(placement: str) -> None:
    """``name_prefix`` (not a fixed name, which the 30-day recovery window keeps taken after a destroy)."""
    run = _run(placement)
    sm = _named(run, "aws:secretsmanager/secret:Secret", "vector-api-key")
    assert sm.inputs["namePrefix"] == "data-platform-production/vector/qdrant-api-key-"
    assert "name" not in sm.inputs
    assert sm.inputs["recoveryWindowInDays"] == 30 and sm.inputs["kmsKeyId"] == KEY + "secrets"


def test_eks_objects_use_cluster_provider(eks: ProgramRun) -> None:
    (prov,) = eks.by_type("pulumi:providers:kubernetes")
    objs = [r for r in eks.resources if r.type.startswith("kubernetes:")]
    assert objs and all(r.provider == prov.urn for r in objs)


def test_ec2_peers(ec2: ProgramRun) -> None:
    insts = {r.name: r for r in ec2.by_type("aws:ec2/instance:Instance")}
    assert sorted(insts) == ["vector-peer-1", "vector-peer-2", "vector-peer-3"]
    for i in insts.values():
        assert i.inputs["associatePublicIpAddress"] is False
        assert i.inputs["metadataOptions"]["httpTokens"] == "required"
        assert i.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
        assert i.inputs["rootBlockDevice"]["encrypted"] is True
    ud1 = yaml.safe_load(insts["vector-peer-1"].inputs["userData"])
    ud2 = yaml.safe_load(insts["vector-peer-2"].inputs["userData"])
    unit1 = next(f["content"] for f in ud1["write_files"] if f["path"].endswith("qdrant.service"))
    unit2 = next(f["content"] for f in ud2["write_files"] if f["path"].endswith("qdrant.service"))
    assert "--uri http://peer-1.vector.data-platform.internal:6335" in unit1 and "--bootstrap" not in unit1
    assert "--bootstrap http://peer-1.vector.data-platform.internal:6335" in unit2
    timer = next(f["content"] for f in ud2["write_files"] if f["path"].endswith("qdrant-snapshot.timer"))
    assert "OnCalendar=*-*-* 00/6:00:00" in timer
    for ver in ec2.by_type("aws:secretsmanager/secretVersion:SecretVersion"):  # admin and read-only key
        assert all(ver.raw_inputs["secretString"] not in i.inputs["userData"] for i in insts.values())
    for v in ec2.by_type("aws:ebs/volume:Volume"):
        assert v.inputs["encrypted"] is True and v.inputs["kmsKeyId"] == KEY + "ebs"


def test_ec2_p2p_only_between_peers(ec2: ProgramRun) -> None:
    rules = ec2.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    p2p = [r for r in rules if r.inputs["fromPort"] == 6335]
    assert p2p and all(r.inputs["referencedSecurityGroupId"] == r.inputs["securityGroupId"] for r in p2p)
    from_app = {r.inputs["fromPort"] for r in rules if r.inputs["referencedSecurityGroupId"] == "sg-app"}
    assert from_app == {6333, 6334}
    (pol,) = ec2.by_type("aws:iam/rolePolicy:RolePolicy")
    assert "arn:aws:s3:::dp-vector-backups/qdrant/*" in json.dumps(json.loads(pol.inputs["policy"]))


def test_placement_switch(eks: ProgramRun, ec2: ProgramRun) -> None:
    a = {r.type for r in _children(eks)}
    b = {r.type for r in _children(ec2)}
    assert a & b == {"aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretVersion:SecretVersion",
                     "random:index/randomPassword:RandomPassword", "aws:iam/role:Role",
                     "aws:iam/rolePolicy:RolePolicy"}
    assert eks.outputs["vector"]["members"] == ec2.outputs["vector"]["members"]


@pytest.mark.parametrize(("kw", "field"), [
    ({"replication_factor": 4}, "replication_factor"),
    ({"write_consistency_factor": 3}, "write_consistency_factor"),
    ({"placement": "ec2", "ec2": {"vpc_id": None}}, "placement.vpc_id"),
    ({"placement": "ec2", "ec2": {"availability_zones": AZS[:2]}}, "placement.availability_zones"),
    ({}, "placement.cluster"),
])
def test_validation(kw: dict[str, Any], field: str) -> None:
    args = _args(None, **kw)
    assert validate_vector_args(args)[0][0] == field
    with pytest.raises(ArgsError, match=field):
        Vector("vector", args)


@pytest.mark.parametrize("placement", ["eks", "ec2"])
def test_api_key_exposed_as_a_secret(placement: str) -> None:
    """``Vector.api_key`` is the value in Secrets Manager, and a Pulumi secret (ClusterMonitoring takes it)."""
    def program() -> None:
        cluster = eks_cluster("vector") if placement == "eks" else None
        v = Vector("vector", _args(cluster, placement=placement))
        pulumi.export("api_key", v.api_key)
        pulumi.export("api_key_revealed", pulumi.Output.unsecret(v.api_key))

    run = record(program, stack="production")
    assert run.error is None, run.error
    assert run.outputs["api_key"] == "[secret]"
    ver = _named(run, "aws:secretsmanager/secretVersion:SecretVersion", "vector-api-key")
    revealed = run.outputs["api_key_revealed"]
    assert isinstance(revealed, str) and revealed
    assert revealed == ver.raw_inputs["secretString"]

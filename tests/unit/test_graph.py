"""``Graph`` (Neo4j) under the recording mock runtime, on EKS and on EC2."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi
import pytest
from placement_kit import KEY, eks_cluster, placement_of

from components.aws.eks import EksCluster
from components.aws.graph import TYPE_TOKEN, Graph, GraphArgs, validate_graph_args
from components.aws.workload import AWS_CLI_IMAGE
from components.base import ArgsError
from components.render.neo4j import parse_neo4j_conf
from review.mocks import RecordedResource
from review.program import ProgramRun, record

STS = "kubernetes:apps/v1:StatefulSet"


def _args(placement: str, cluster: EksCluster | None, **kw: Any) -> GraphArgs:
    where = placement_of(placement, cluster)
    base: dict[str, Any] = {
        "backup_bucket_name": "dp-graph-backups", "backup_kms_key_arn": KEY + "backup",
        "secrets_kms_key_arn": KEY + "secrets", "license_agreement": "yes", "placement": where, "protect": True,
    }
    return GraphArgs(**{**base, **kw})


def _run(placement: str, **kw: Any) -> ProgramRun:
    def program() -> None:
        cluster = eks_cluster("graph") if placement == "eks" else None
        g = Graph("graph", _args(placement, cluster, **kw))
        pulumi.export("realized", g.realized)
        pulumi.export("graph", {"bolt": g.bolt_endpoint, "members": g.members, "role": g.backup_role_arn,
                                "sg": g.security_group_id, "ns": g.namespace})

    run = record(program, stack="production")
    assert run.error is None, run.error
    return run


def _graph_children(run: ProgramRun) -> list[RecordedResource]:
    comp = next(r for r in run.resources if r.type == TYPE_TOKEN)
    return [r for r in run.resources if r.parent == comp.urn]


@pytest.fixture(scope="module")
def eks() -> ProgramRun:
    return _run("eks")


@pytest.fixture(scope="module")
def ec2() -> ProgramRun:
    return _run("ec2")


def _conf_of(run: ProgramRun, member: str) -> dict[str, str]:
    cm = next(r for r in run.by_type("kubernetes:core/v1:ConfigMap") if r.name == f"graph-{member}-conf")
    return parse_neo4j_conf(cm.inputs["data"]["neo4j.conf"])


# ---- EKS ------------------------------------------------------------------------------------


def test_eks_members_one_statefulset_each(eks: ProgramRun) -> None:
    sets = {r.inputs["metadata"]["name"]: r for r in eks.by_type(STS)}
    assert set(sets) == {"graph-primary-1", "graph-primary-2", "graph-primary-3",
                         "graph-secondary-1", "graph-secondary-2"}
    for s in sets.values():
        assert s.inputs["spec"]["replicas"] == 1
        assert s.inputs["spec"]["serviceName"] == "graph-cluster"
        assert s.protect and s.retain_on_delete
    assert eks.outputs["graph"]["members"] == {"primary-1": "primary", "primary-2": "primary",
                                               "primary-3": "primary", "secondary-1": "secondary",
                                               "secondary-2": "secondary"}


def test_eks_rendered_conf_roles(eks: ProgramRun) -> None:
    for m in ("primary-1", "primary-2", "primary-3"):
        c = _conf_of(eks, m)
        assert c["initial.server.mode_constraint"] == "PRIMARY"
        assert c["server.cluster.system_database_mode"] == "PRIMARY"
    for m in ("secondary-1", "secondary-2"):
        c = _conf_of(eks, m)
        assert c["initial.server.mode_constraint"] == "SECONDARY"
        assert c["server.cluster.system_database_mode"] == "SECONDARY"
        assert c["server.default_advertised_address"] == f"graph-{m}-0.graph-cluster.graph.svc.cluster.local"
    c = _conf_of(eks, "primary-1")
    assert c["dbms.cluster.minimum_initial_system_primaries_count"] == "3"
    assert c["initial.dbms.default_secondaries_count"] == "2"
    assert len(c["dbms.cluster.discovery.v2.endpoints"].split(",")) == 5


def test_eks_pod_spec_security_and_scheduling(eks: ProgramRun) -> None:
    for s in eks.by_type(STS):
        pod = s.inputs["spec"]["template"]["spec"]
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 7474 and psc["fsGroup"] == 7474
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        (c,) = pod["containers"]
        csc = c["securityContext"]
        assert csc["allowPrivilegeEscalation"] is False and csc["capabilities"] == {"drop": ["ALL"]}
        assert c["resources"]["requests"] == c["resources"]["limits"]
        env = {e["name"]: e for e in c["env"]}
        assert env["NEO4J_ACCEPT_LICENSE_AGREEMENT"]["value"] == "yes"
        assert pod["automountServiceAccountToken"] is False
        assert pod["nodeSelector"] == {"workload": "graph"}
        assert pod["tolerations"][0]["key"] == "workload" and pod["tolerations"][0]["effect"] == "NoSchedule"
        zones = [t for t in pod["topologySpreadConstraints"] if t["topologyKey"] == "topology.kubernetes.io/zone"]
        assert zones and zones[0]["maxSkew"] == 1 and zones[0]["whenUnsatisfiable"] == "DoNotSchedule"
        (vct,) = s.inputs["spec"]["volumeClaimTemplates"]
        assert vct["spec"]["storageClassName"] == "encrypted-gp3"


def test_eks_neo4j_read_only_root_with_written_paths_mounted(eks: ProgramRun) -> None:
    """readOnlyRootFilesystem: the official image's entrypoint empties $NEO4J_HOME/conf, copies /conf into it
    and appends settings; Neo4j writes run files to server.directories.run (/run) and the JVM to /tmp. Each
    of those is an emptyDir, /data the claim, /logs an emptyDir."""
    for s in eks.by_type(STS):
        pod = s.inputs["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        assert mounts["/data"] == "data" and mounts["/logs"] == "logs"
        assert mounts["/var/lib/neo4j/conf"] == "conf-dir" and mounts["/run"] == "run" and mounts["/tmp"] == "tmp"
        vols = {v["name"]: v for v in pod["volumes"]}
        for name in ("logs", "conf-dir", "run", "tmp"):
            assert "emptyDir" in vols[name], name
        assert mounts["/conf/neo4j.conf"] == "conf"


def test_eks_neo4j_password_is_a_file(eks: ProgramRun) -> None:
    """NEO4J_AUTH_PATH: the entrypoint reads neo4j/<password> from the mounted Secret, not the environment."""
    for s in eks.by_type(STS):
        pod = s.inputs["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        env = {e["name"]: e for e in c["env"]}
        assert "NEO4J_AUTH" not in env and not [e for e in c["env"] if "valueFrom" in e]
        assert env["NEO4J_AUTH_PATH"] == {"name": "NEO4J_AUTH_PATH", "value": "/var/run/secrets/neo4j/NEO4J_AUTH"}
        assert {"name": "auth", "mountPath": "/var/run/secrets/neo4j", "readOnly": True} in c["volumeMounts"]
        vols = {v["name"]: v for v in pod["volumes"]}
        assert vols["auth"] == {"name": "auth", "secret": {"secretName": "graph-auth", "defaultMode": 0o440}}


def test_eks_backup_job_hardened(eks: ProgramRun) -> None:
    """Both backup containers read-only (neo4j-admin's log in a /logs emptyDir, /tmp for the JVM and bash);
    no API token: IRSA's token is a projected volume the EKS pod identity webhook adds on its own."""
    (cj,) = eks.by_type("kubernetes:batch/v1:CronJob")
    pod = cj.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in [*pod["initContainers"], *pod["containers"]]:
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, c["name"]
        assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
        assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
    (init,) = pod["initContainers"]
    assert {"name": "logs", "mountPath": "/logs"} in init["volumeMounts"]
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["tmp"] == {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}
    assert vols["logs"] == {"name": "logs", "emptyDir": {"sizeLimit": "256Mi"}}


def test_eks_pdb_keeps_quorum(eks: ProgramRun) -> None:
    pdbs = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in
            eks.by_type("kubernetes:policy/v1:PodDisruptionBudget")}
    assert pdbs["graph-primaries"]["minAvailable"] == 2
    assert pdbs["graph-primaries"]["selector"]["matchLabels"]["graph.data-platform/role"] == "primary"
    assert pdbs["graph-secondaries"]["maxUnavailable"] == 1


def test_eks_pdb_quorum_of_five() -> None:
    run = _run("eks", primaries=5, secondaries=0)
    (pdb,) = run.by_type("kubernetes:policy/v1:PodDisruptionBudget")
    assert pdb.inputs["spec"]["minAvailable"] == 3


def test_eks_services(eks: ProgramRun) -> None:
    svcs = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in eks.by_type("kubernetes:core/v1:Service")}
    assert svcs["graph-cluster"]["clusterIP"] == "None" and svcs["graph-cluster"]["publishNotReadyAddresses"]
    assert svcs["graph-bolt"]["selector"]["graph.data-platform/role"] == "primary"
    assert svcs["graph-read"]["selector"]["graph.data-platform/role"] == "secondary"
    assert {p["port"] for p in svcs["graph-bolt"]["ports"]} == {7687, 7474}
    assert eks.outputs["graph"]["bolt"] == "neo4j://graph-bolt.graph.svc.cluster.local:7687"


def test_eks_network_policy(eks: ProgramRun) -> None:
    (np_,) = eks.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    spec = np_.inputs["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    app = spec["ingress"][0]
    assert app["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "app"}
    assert {p["port"] for p in app["ports"]} == {7687, 7474}
    peers = spec["ingress"][1]
    assert peers["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "graph"
    assert {6000, 7000, 6362} <= {p["port"] for p in peers["ports"]}
    # nobody else reaches the backup port
    for rule in spec["ingress"]:
        if 6362 in {p["port"] for p in rule["ports"]}:
            assert "namespaceSelector" not in rule["from"][0]


def _named(run: ProgramRun, type_: str, name: str) -> RecordedResource:
    (r,) = [r for r in run.by_type(type_) if r.name == name]
    return r


def test_eks_password_secret_end_to_end(eks: ProgramRun) -> None:
    sec = _named(eks, "kubernetes:core/v1:Secret", "graph-auth")
    assert sec.inputs["stringData"] == "[secret]"
    assert sec.raw_inputs["stringData"]["NEO4J_AUTH"].startswith("neo4j/")
    ver = _named(eks, "aws:secretsmanager/secretVersion:SecretVersion", "graph-password")
    assert ver.inputs["secretString"] == "[secret]"
    sm = _named(eks, "aws:secretsmanager/secret:Secret", "graph-password")
    assert sm.inputs["kmsKeyId"] == KEY + "secrets"
    assert sec.raw_inputs["stringData"]["NEO4J_AUTH"] == "neo4j/" + ver.raw_inputs["secretString"]


@pytest.mark.parametrize("placement", ["eks", "ec2"])
def test_password_secret_name_is_a_prefix(placement: str) -> None:
    """A fixed ``name`` stays taken for the 30-day recovery window after a destroy, so a re-create fails;
    ``name_prefix`` keeps the readable path and lets AWS append a unique suffix. The window is kept."""
    run = _run(placement)
    sm = _named(run, "aws:secretsmanager/secret:Secret", "graph-password")
    assert sm.inputs["namePrefix"] == "data-platform-production/graph/neo4j-password-"
    assert "name" not in sm.inputs
    assert sm.inputs["recoveryWindowInDays"] == 30


def test_eks_backup_cronjob_irsa(eks: ProgramRun) -> None:
    (cj,) = eks.by_type("kubernetes:batch/v1:CronJob")
    assert cj.inputs["spec"]["schedule"] == "0 2 * * *"
    pod = cj.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "graph-backup"
    assert "neo4j-admin database backup" in pod["initContainers"][0]["command"][-1]
    assert "--sse aws:kms" in pod["containers"][0]["command"][-1]
    (sa,) = eks.by_type("kubernetes:core/v1:ServiceAccount")
    role_arn = sa.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role_arn == eks.outputs["graph"]["role"]
    role = next(r for r in eks.by_type("aws:iam/role:Role") if r.name == "graph-backup-irsa")
    cond = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:graph:graph-backup" in cond.values()
    pol = next(r for r in eks.by_type("aws:iam/rolePolicy:RolePolicy") if r.name == "graph-backup-irsa")
    stmts = json.loads(pol.inputs["policy"])["Statement"]
    resources = {r for s in stmts for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    assert resources == {"arn:aws:s3:::dp-graph-backups", "arn:aws:s3:::dp-graph-backups/neo4j/*", KEY + "backup"}
    assert {a for s in stmts for a in s["Action"]} == {"s3:ListBucket", "s3:PutObject", "s3:GetObject",
                                                       "kms:GenerateDataKey", "kms:Decrypt"}


def test_eks_backup_cli_has_a_writable_home(eks: ProgramRun) -> None:
    """The AWS CLI creates ~/.aws even with IRSA credentials; as uid 7474 without a home it fails on '/.aws'
    (aws-cli #9075) and no backup reaches S3. HOME is an emptyDir of its own."""
    (cj,) = eks.by_type("kubernetes:batch/v1:CronJob")
    pod = cj.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 7474
    (upload,) = [c for c in pod["containers"] if c["image"] == AWS_CLI_IMAGE]
    home = {e["name"]: e.get("value") for e in upload["env"]}["HOME"]
    mount = next(m for m in upload["volumeMounts"] if m["mountPath"] == home)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" in volume and not mount.get("readOnly")


def test_eks_backup_scratch_is_a_claim_not_node_disk(eks: ProgramRun) -> None:
    """A 200 GiB emptyDir lives on the node's 50 GiB root volume: once the backup outgrows the free space
    the kubelet evicts the job. The backup goes to a claim of the encrypted StorageClass, sized like a
    member's volume; one claim reused by every run (a per-run ephemeral claim would leave a retained EBS
    volume behind each run: the StorageClass keeps volumes in production)."""
    (cj,) = eks.by_type("kubernetes:batch/v1:CronJob")
    pod = cj.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["backups"] == {"name": "backups", "persistentVolumeClaim": {"claimName": "graph-backup-scratch"}}
    assert all(v["emptyDir"].get("sizeLimit", "0Mi").endswith("Mi") for v in vols.values() if "emptyDir" in v)
    for c in [*pod["initContainers"], *pod["containers"]]:
        assert {"name": "backups", "mountPath": "/backups"} in c["volumeMounts"]
    (pvc,) = eks.by_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert pvc.inputs["metadata"]["name"] == "graph-backup-scratch" and pvc.inputs["metadata"]["namespace"] == "graph"
    assert pvc.inputs["spec"] == {"accessModes": ["ReadWriteOnce"], "storageClassName": "encrypted-gp3",
                                  "resources": {"requests": {"storage": "200Gi"}}}
    assert not pvc.protect


def test_eks_every_k8s_object_uses_cluster_provider(eks: ProgramRun) -> None:
    (prov,) = eks.by_type("pulumi:providers:kubernetes")
    k8s_objs = [r for r in eks.resources if r.type.startswith("kubernetes:")]
    assert len(k8s_objs) > 10
    for r in k8s_objs:
        assert r.provider == prov.urn, r.urn


# ---- EC2 ------------------------------------------------------------------------------------


def test_ec2_instances(ec2: ProgramRun) -> None:
    insts = ec2.by_type("aws:ec2/instance:Instance")
    assert len(insts) == 5
    assert [i.inputs["subnetId"] for i in sorted(insts, key=lambda r: r.name)] == \
        ["subnet-a", "subnet-b", "subnet-c", "subnet-a", "subnet-b"]
    for i in insts:
        assert i.inputs["associatePublicIpAddress"] is False
        assert "keyName" not in i.inputs
        md = i.inputs["metadataOptions"]
        assert md["httpTokens"] == "required" and md["httpPutResponseHopLimit"] == 1
        root = i.inputs["rootBlockDevice"]
        assert root["encrypted"] is True and root["kmsKeyId"] == KEY + "ebs" and root["volumeType"] == "gp3"
        assert i.inputs["monitoring"] is True and i.inputs["ebsOptimized"] is True
        assert i.inputs["userData"].startswith("#cloud-config\n")
    ver = _named(ec2, "aws:secretsmanager/secretVersion:SecretVersion", "graph-password")
    password = ver.raw_inputs["secretString"]
    assert len(password) == 32
    for i in insts:  # the password is fetched at boot, never written into user data
        assert password not in i.inputs["userData"] and "get-secret-value" in i.inputs["userData"]


def test_ec2_data_volumes_encrypted_and_protected(ec2: ProgramRun) -> None:
    vols = ec2.by_type("aws:ebs/volume:Volume")
    assert len(vols) == 5
    for v in vols:
        assert v.inputs["encrypted"] is True and v.inputs["kmsKeyId"] == KEY + "ebs" and v.inputs["type"] == "gp3"
        assert v.protect and v.retain_on_delete
    assert len(ec2.by_type("aws:ec2/volumeAttachment:VolumeAttachment")) == 5


def test_ec2_user_data_conf_and_timer(ec2: ProgramRun) -> None:
    import yaml

    by_name = {r.name: r for r in ec2.by_type("aws:ec2/instance:Instance")}
    for name, mode in (("graph-primary-2", "PRIMARY"), ("graph-secondary-1", "SECONDARY")):
        doc = yaml.safe_load(by_name[name].inputs["userData"])
        files = {f["path"]: f["content"] for f in doc["write_files"]}
        conf = parse_neo4j_conf(files["/etc/data-platform/neo4j.conf"])
        assert conf["initial.server.mode_constraint"] == mode
        host = f"{name.removeprefix('graph-')}.graph.data-platform.internal"
        assert conf["server.default_advertised_address"] == host
    timers = [n for n, r in by_name.items() if "neo4j-backup.timer" in r.inputs["userData"]]
    assert timers == ["graph-secondary-1"]
    doc = yaml.safe_load(by_name["graph-secondary-1"].inputs["userData"])
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    assert "OnCalendar=*-*-* 02:00:00" in files["/etc/systemd/system/neo4j-backup.timer"]


def test_ec2_conf_is_merged_into_the_packaged_file(ec2: ProgramRun) -> None:
    """The RPM's /etc/neo4j/neo4j.conf carries the layout (server.directories.lib, JVM flags, logs): the
    rendered settings are merged into it after the package is installed, never installed over it."""
    import yaml

    for inst in ec2.by_type("aws:ec2/instance:Instance"):
        doc = yaml.safe_load(inst.inputs["userData"])
        files = {f["path"]: f for f in doc["write_files"]}
        assert files["/usr/local/sbin/dp-neo4j-conf"]["permissions"] == "0755"
        run = [c if isinstance(c, list) else [c] for c in doc["runcmd"]]
        assert not any("/etc/neo4j/neo4j.conf" in c and c[0] in ("install", "cp", "mv") for c in run), run
        merge = run.index(["/usr/local/sbin/dp-neo4j-conf", "/etc/data-platform/neo4j.conf", "/etc/neo4j/neo4j.conf"])
        package = next(i for i, c in enumerate(run) if "dnf install -y neo4j-enterprise-5.26.12" in c[0])
        start = run.index(["systemctl", "enable", "--now", "neo4j"])
        assert package < merge < start


def test_ec2_security_group_rules(ec2: ProgramRun) -> None:
    assert len(ec2.by_type("aws:ec2/securityGroup:SecurityGroup")) == 1
    rules = ec2.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rules and all("cidrIpv4" not in r.inputs for r in rules)
    from_app = {r.inputs["fromPort"] for r in rules if r.inputs["referencedSecurityGroupId"] == "sg-app"}
    assert from_app == {7687, 7474}
    self_ports = {r.inputs["fromPort"] for r in rules
                  if r.inputs["referencedSecurityGroupId"] == r.inputs["securityGroupId"]}
    assert {5000, 6000, 7000, 6362} <= self_ports
    assert ec2.outputs["graph"]["sg"].startswith("sg-")


def test_ec2_private_zone_records(ec2: ProgramRun) -> None:
    (zone,) = ec2.by_type("aws:route53/zone:Zone")
    assert zone.inputs["vpcs"] == [{"vpcId": "vpc-1"}]
    names = sorted(r.inputs["name"] for r in ec2.by_type("aws:route53/record:Record"))
    assert names[0] == "primary-1.graph.data-platform.internal" and len(names) == 5


def test_ec2_instance_role_scoped(ec2: ProgramRun) -> None:
    (pol,) = ec2.by_type("aws:iam/rolePolicy:RolePolicy")
    stmts = json.loads(pol.inputs["policy"])["Statement"]
    assert all(s["Resource"] != "*" for s in stmts)
    (att,) = ec2.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert att.inputs["policyArn"].endswith("AmazonSSMManagedInstanceCore")


def test_placement_switch_changes_only_realization(eks: ProgramRun, ec2: ProgramRun) -> None:
    def types(run: ProgramRun) -> set[str]:
        return {r.type for r in _graph_children(run)}

    common = types(eks) & types(ec2)
    assert common == {"aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretVersion:SecretVersion",
                      "random:index/randomPassword:RandomPassword", "aws:iam/role:Role",
                      "aws:iam/rolePolicy:RolePolicy"}
    assert not any(t.startswith("kubernetes:") for t in types(ec2))
    assert not any(t.startswith("aws:ec2/") for t in types(eks))
    assert eks.outputs["graph"]["members"] == ec2.outputs["graph"]["members"]


def test_realized_members_are_recorded(eks: ProgramRun, ec2: ProgramRun) -> None:
    for run, typ in ((eks, STS), (ec2, "aws:ec2/instance:Instance")):
        names = {r.name for r in run.by_type(typ)}
        assert set(run.outputs["realized"]) == {f"graph/{m}" for m in run.outputs["graph"]["members"]}
        assert set(run.outputs["realized"].values()) == names


def test_community_single_server() -> None:
    run = _run("eks", license_agreement="no", primaries=1, secondaries=0)
    (s,) = run.by_type(STS)
    (c,) = s.inputs["spec"]["template"]["spec"]["containers"]
    assert c["image"] == "neo4j:5.26.12"
    assert "NEO4J_ACCEPT_LICENSE_AGREEMENT" not in {e["name"] for e in c["env"]}
    conf = parse_neo4j_conf(run.by_type("kubernetes:core/v1:ConfigMap")[0].inputs["data"]["neo4j.conf"])
    assert not any(k.startswith(("server.backup", "server.metrics", "dbms.cluster")) for k in conf)
    assert run.by_type("kubernetes:batch/v1:CronJob") == []


@pytest.mark.parametrize(("kw", "field"), [
    ({"primaries": 2}, "primaries"),
    ({"license_agreement": "no"}, "license_agreement"),
    ({"backup_schedule": "@daily"}, "backup_schedule"),
    ({}, "placement.cluster"),
])
def test_validation(kw: dict[str, Any], field: str) -> None:
    args = _args("eks", None, **kw)
    assert validate_graph_args(args)[0][0] == field
    with pytest.raises(ArgsError, match=field):
        Graph("graph", args)


def test_a_placement_that_is_not_a_placement_type_is_refused() -> None:
    """The old string form (``placement="eks"``) names the field and the two types instead of failing later."""
    args = dataclasses.replace(_args("eks", None), placement="eks")  # type: ignore[arg-type]
    assert validate_graph_args(args) == [
        ("placement", "eks", "EksPlacement(cluster=...) or Ec2Placement(vpc_id=..., ...)")]
    with pytest.raises(ArgsError, match=r"GraphArgs\.placement: 'eks'"):
        Graph("graph", args)

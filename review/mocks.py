"""Pulumi's mock runtime, with a monitor that records every registration as ``pulumi preview`` sees it.

:class:`RecordingMonitor` subclasses :class:`pulumi.runtime.mocks.MockMonitor`: it builds real-style
URNs (the full chain of parent types, nothing for direct children of the stack, as the engine
does) and records the whole ``RegisterResource`` request (type, name, parent, inputs,
dependencies, protect, provider, retainOnDelete). :class:`CloudMocks` answers with realistic
ids, ARNs and endpoints, so outputs that feed other resources are known, as after ``pulumi up``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

ACCOUNT_ID = "123456789012"
UNKNOWN = "[unknown]"
SECRET = "[secret]"


@dataclass
class RecordedResource:
    """One ``RegisterResource`` request, in the shape of the review's JSON contract."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    inputs: dict[str, Any]
    """Inputs as the provider receives them, secrets masked as ``[secret]``."""
    protect: bool
    retain_on_delete: bool
    provider: str | None
    dependencies: list[str]
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    raw_inputs: dict[str, Any] = field(default_factory=dict, repr=False)
    """Inputs with secret values revealed (for tests that check what a secret holds)."""
    secret_paths: list[str] = field(default_factory=list)
    delete_before_replace: bool | None = None
    """The ``delete_before_replace`` resource option when the program set it, else None."""
    ignore_changes: list[str] = field(default_factory=list)
    """The ``ignore_changes`` resource option (input paths)."""
    replace_on_changes: list[str] = field(default_factory=list)
    """The ``replace_on_changes`` resource option (input paths)."""

    def to_json(self) -> dict[str, Any]:
        out = {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "parent": self.parent,
            "inputs": self.inputs,
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "provider": self.provider,
            "dependencies": sorted(self.dependencies),
            "propertyDependencies": {k: sorted(v) for k, v in sorted(self.property_dependencies.items())},
        }
        # Resource options the engine and the policy pack act on; shown only when the program sets them.
        if self.delete_before_replace is not None:
            out["deleteBeforeReplace"] = self.delete_before_replace
        if self.ignore_changes:
            out["ignoreChanges"] = sorted(self.ignore_changes)
        if self.replace_on_changes:
            out["replaceOnChanges"] = sorted(self.replace_on_changes)
        return out


def _unwrap(value: Any, path: str, secrets: list[str]) -> tuple[Any, Any]:
    """Return ``(masked, revealed)`` copies of a deserialized property value."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            secrets.append(path)
            _, revealed = _unwrap(value.get("value"), path, [])
            return SECRET, revealed
        masked, revealed = {}, {}
        for k, v in value.items():
            masked[k], revealed[k] = _unwrap(v, f"{path}.{k}" if path else k, secrets)
        return masked, revealed
    if isinstance(value, list):
        pairs = [_unwrap(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if isinstance(value, Unknown) or (isinstance(value, str) and value == rpc.UNKNOWN):
        return UNKNOWN, UNKNOWN
    if isinstance(value, pulumi.Resource):  # resource references
        return str(value), str(value)
    return value, value


def _mark_secret_outputs(state: struct_pb2.Struct, keys: Any) -> None:
    """Wrap the outputs a resource declares secret (``additionalSecretOutputs``, e.g. a
    RandomPassword's ``result``) as secrets, as the engine does; the stock MockMonitor does not, and
    values derived from them would otherwise show in plain text."""
    for key in keys:
        if key not in state.fields or (state.fields[key].HasField("struct_value") and \
                state.fields[key].struct_value.fields[rpc._special_sig_key].string_value == rpc._special_secret_sig):
            continue
        wrapped = struct_pb2.Struct()
        wrapped.fields[rpc._special_sig_key].string_value = rpc._special_secret_sig
        wrapped.fields["value"].CopyFrom(state.fields[key])
        state.fields[key].struct_value.CopyFrom(wrapped)


def _provider_urn(ref: str) -> str | None:
    return ref.split("::" + ref.rsplit("::", 1)[-1])[0] if ref else None


class RecordingMonitor(MockMonitor):
    """A mock monitor that keeps every registration request and real-style URNs."""

    def __init__(self, mocks: pulumi.runtime.Mocks,
                 on_record: Callable[[RecordedResource], None] | None = None) -> None:
        super().__init__(mocks)
        self.on_record = on_record
        """Called with each resource as soon as it is recorded (in the runtime's worker thread)."""
        self.recorded: dict[str, RecordedResource] = {}
        self.stack_urn: str | None = None
        self.stack_outputs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        from pulumi.runtime.settings import get_project, get_stack

        chain = type_
        if parent:
            parent_chain = parent.split("::")[2]
            if parent_chain != "pulumi:pulumi:Stack":
                chain = parent_chain + "$" + type_
        return f"urn:pulumi:{get_stack()}::{get_project()}::{chain}::{name}"

    def RegisterResource(self, request: Any) -> Any:
        if request.type == "pulumi:pulumi:Stack":
            response = super().RegisterResource(request)
            self.stack_urn = response.urn
            return response
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        secrets: list[str] = []
        masked, revealed = _unwrap(inputs, "", secrets)
        response = super().RegisterResource(request)
        _mark_secret_outputs(response.object, request.additionalSecretOutputs)
        parent = request.parent or None
        if parent is not None and parent == self.stack_urn:
            parent = None
        rec = RecordedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=parent,
            inputs=masked,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            provider=_provider_urn(request.provider),
            dependencies=[d for d in request.dependencies if d != self.stack_urn],
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            raw_inputs=revealed,
            secret_paths=secrets,
            delete_before_replace=bool(request.deleteBeforeReplace)
            if (request.deleteBeforeReplaceDefined or request.deleteBeforeReplace) else None,
            ignore_changes=list(request.ignoreChanges),
            replace_on_changes=list(request.replaceOnChanges),
        )
        with self._lock:
            self.recorded[response.urn] = rec
        if self.on_record is not None:
            self.on_record(rec)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == self.stack_urn:
            outputs = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
            self.stack_outputs = _unwrap(outputs, "", [])[0]
        return super().RegisterResourceOutputs(request)


def _h(*parts: str, n: int = 8) -> str:
    return hashlib.sha1("/".join(parts).encode()).hexdigest()[:n]


class CloudMocks(pulumi.runtime.Mocks):
    """Realistic ids, ARNs and endpoints for the resource types the program creates."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        typ, name = args.typ, args.name
        region = inputs.get("region") or self.region
        rid = f"{name}-{_h(typ, name)}"
        state: dict[str, Any] = dict(inputs)
        module = typ.split(":")[1].split("/")[0] if typ.count(":") >= 2 else ""
        arn = f"arn:aws:{module}:{region}:{ACCOUNT_ID}:{module}/{rid}"
        if typ.startswith("aws:"):
            state.setdefault("arn", arn)
            state.setdefault("region", region)
            state.setdefault("tagsAll", inputs.get("tags", {}))
        extra = _TYPE_STATE.get(typ)
        if extra is not None:
            rid, more = extra(name, inputs, region, rid)
            state.update(more)
        state.setdefault("id", rid)
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return self._answer(args.token, args.args), []

    def _answer(self, token: str, a: dict[str, Any]) -> dict[str, Any]:
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/review",
                    "userId": "AIDAREVIEW", "id": ACCOUNT_ID}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:index/getRegion:getRegion":
            r = a.get("region") or a.get("name") or self.region
            return {"name": r, "region": r, "id": r}
        if token in ("aws:ec2/getAmi:getAmi", "aws:ssm/getParameter:getParameter"):
            return {"id": "ami-0abcdef1234567890", "imageId": "ami-0abcdef1234567890",
                    "value": "ami-0abcdef1234567890", "insecureValue": "ami-0abcdef1234567890",
                    "name": a.get("name", "")}
        return {}


def _rds_instance(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
    ident = inputs.get("identifier") or rid
    host = f"{ident}.c{_h(ident, n=10)}.{region}.rds.amazonaws.com"
    port = int(inputs.get("port", 5432))
    return ident, {
        "identifier": ident,
        "address": host,
        "endpoint": f"{host}:{port}",
        "port": port,
        "resourceId": f"db-{_h(ident, n=20).upper()}",
        "arn": f"arn:aws:rds:{region}:{ACCOUNT_ID}:db:{ident}",
    }


def _replication_group(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
    gid = inputs.get("replicationGroupId") or rid
    return gid, {
        "configurationEndpointAddress": f"clustercfg.{gid}.{_h(gid, n=6)}.{_short(region)}.cache.amazonaws.com",
        "primaryEndpointAddress": "",
        "arn": f"arn:aws:elasticache:{region}:{ACCOUNT_ID}:replicationgroup:{gid}",
        "memberClusters": [f"{gid}-{s:04d}-{n:03d}" for s in range(1, int(inputs.get("numNodeGroups", 1)) + 1)
                           for n in range(1, int(inputs.get("replicasPerNodeGroup", 0)) + 2)],
    }


def _short(region: str) -> str:
    parts = region.split("-")
    return parts[0] + parts[1][0] + parts[2] if len(parts) == 3 else region


def _kms_key(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
    key_id = f"{_h(name, region, n=8)}-{_h(name, n=4)}-4{_h(region, n=3)}-8{_h(name, 'b', n=3)}-{_h(name, n=12)}"
    return key_id, {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_id}"}


def _bucket(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
    bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', name)}{_h(name, n=12)}"
    return bucket, {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}",
                    "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com"}


def _named_arn(service: str, kind: str, key: str = "name"):
    def build(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
        value = inputs.get(key) or rid
        return value, {key: value, "arn": f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{kind}{value}"}

    return build


def _secret(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
    # As the provider does: ``namePrefix`` plus a 26-character unique suffix; Secrets Manager appends
    # six random characters to the ARN. The id is the ARN.
    value = inputs.get("name") or f"{inputs.get('namePrefix', name)}{_h(name, region, n=26)}"
    arn = f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{value}-{_h(value, n=6)}"
    return arn, {"name": value, "arn": arn}


def _iam(kind: str):
    def build(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
        value = inputs.get("name") or rid
        return value, {"name": value, "arn": f"arn:aws:iam::{ACCOUNT_ID}:{kind}/{value}",
                       "uniqueId": f"AROA{_h(value, n=16).upper()}"}

    return build


def _eks_cluster(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
    cname = inputs.get("name") or rid
    oidc = f"https://oidc.eks.{region}.amazonaws.com/id/{_h(cname, n=32).upper()}"
    return cname, {
        "name": cname,
        "arn": f"arn:aws:eks:{region}:{ACCOUNT_ID}:cluster/{cname}",
        "endpoint": f"https://{_h(cname, n=32).upper()}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMuLi4KLS0tLS1FTkQ="},
        "identities": [{"oidcs": [{"issuer": oidc}]}],
        "vpcConfig": {**inputs.get("vpcConfig", {}), "clusterSecurityGroupId": f"sg-{_h(cname, n=17)}"},
    }


def _oidc_provider(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
    url = str(inputs.get("url", "")).removeprefix("https://")
    return rid, {"arn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{url}"}


def _prefixed(prefix: str):
    def build(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
        return f"{prefix}-{_h(name, region, n=17)}", {}

    return build


def _random_password(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
    length = int(inputs.get("length", 32))
    return rid, {"result": ("Rv" + _h(name, n=64))[:length]}


def _random_id(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
    n = int(inputs.get("byteLength", 8))
    raw = bytes.fromhex(_h(name, "id", n=2 * n).ljust(2 * n, "0"))
    import base64

    return rid, {"hex": raw.hex(), "b64Std": base64.b64encode(raw).decode(),
                 "b64Url": base64.urlsafe_b64encode(raw).decode().rstrip("="), "dec": str(int(raw.hex(), 16))}


def _route53_zone(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
    zone_id = "Z" + _h(name, n=20).upper()
    return zone_id, {"zoneId": zone_id, "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
                     "nameServers": [f"ns-{_h(name, str(i), n=3)}.awsdns-00.com" for i in range(4)]}


def _ec2_instance(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
    digest = hashlib.sha1(name.encode()).digest()
    return f"i-{_h(name, region, n=17)}", {"privateIp": f"10.40.{digest[0] % 16 + 32}.{digest[1] % 250 + 4}",
                                          "publicIp": "", "privateDns": f"ip-{_h(name, n=8)}.ec2.internal"}


def _k8s(name: str, inputs: dict[str, Any], region: str, rid: str) -> tuple[str, dict[str, Any]]:
    meta = inputs.get("metadata") or {}
    ns = meta.get("namespace")
    obj = meta.get("name") or name
    return (f"{ns}/{obj}" if ns else obj), {"metadata": {**meta, "name": obj}}


_TYPE_STATE = {
    "aws:rds/instance:Instance": _rds_instance,
    "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group,
    "aws:kms/key:Key": _kms_key,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:sns/topic:Topic": _named_arn("sns", ""),
    "aws:cloudwatch/logGroup:LogGroup": _named_arn("logs", "log-group:"),
    "aws:iam/role:Role": _iam("role"),
    "aws:iam/policy:Policy": _iam("policy"),
    "aws:iam/instanceProfile:InstanceProfile": _iam("instance-profile"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:ec2/vpc:Vpc": _prefixed("vpc"),
    "aws:ec2/subnet:Subnet": _prefixed("subnet"),
    "aws:ec2/securityGroup:SecurityGroup": _prefixed("sg"),
    "aws:ec2/routeTable:RouteTable": _prefixed("rtb"),
    "aws:ec2/internetGateway:InternetGateway": _prefixed("igw"),
    "aws:ec2/natGateway:NatGateway": _prefixed("nat"),
    "aws:ec2/eip:Eip": _prefixed("eipalloc"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _prefixed("vpce"),
    "aws:ec2/instance:Instance": _ec2_instance,
    "aws:route53/zone:Zone": _route53_zone,
    "aws:ec2/launchTemplate:LaunchTemplate": _prefixed("lt"),
    "aws:ebs/volume:Volume": _prefixed("vol"),
    "random:index/randomPassword:RandomPassword": _random_password,
    "random:index/randomId:RandomId": _random_id,
}
for _t in ("kubernetes:core/v1:Namespace", "kubernetes:core/v1:Service", "kubernetes:apps/v1:StatefulSet",
           "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret", "kubernetes:core/v1:ServiceAccount",
           "kubernetes:storage.k8s.io/v1:StorageClass", "kubernetes:batch/v1:CronJob",
           "kubernetes:policy/v1:PodDisruptionBudget", "kubernetes:networking.k8s.io/v1:NetworkPolicy"):
    _TYPE_STATE[_t] = _k8s

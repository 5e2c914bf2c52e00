"""Identity (advisory): least-privilege IAM and KMS key policies, IRSA roles scoped to one bucket.

Policy documents are read from ``aws:iam/policy`` and ``aws:iam/rolePolicy`` (``policy``), role
``inlinePolicies[].policy``, and KMS ``aws:kms/key`` / ``aws:kms/keyPolicy`` (``policy``), given as
JSON strings (what ``json.dumps`` / ``get_policy_document(...).json`` produce) or objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policies._base import (
    ADVISORY,
    IAM_POLICY,
    IAM_POLICY_ATTACHMENT,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    IAM_ROLE_POLICY_ATTACHMENT,
    KMS_KEY,
    KMS_KEY_POLICY,
    MANDATORY,
    RDS_INSTANCE,
    UNKNOWN,
    Resource,
    Stack,
    as_dict,
    as_list,
    policy_document,
    resource_policy,
    stack_policy,
    statements,
    str_list,
    truthy,
)

CONCERN = "identity"
POLICY_TYPES = (IAM_POLICY, IAM_ROLE_POLICY, IAM_ROLE)


def documents(r: Resource) -> list[tuple[str, dict[str, Any]]]:
    """(property path, parsed document) of every IAM policy document the resource carries."""
    out: list[tuple[str, dict[str, Any]]] = []
    if r.type in (IAM_POLICY, IAM_ROLE_POLICY):
        doc = policy_document(r.get("policy"))
        if doc is not None:
            out.append(("policy", doc))
    elif r.type == IAM_ROLE:
        for i, inline in enumerate(as_list(r.get("inlinePolicies"))):
            doc = policy_document(as_dict(inline).get("policy"))
            if doc is not None:
                out.append((f"inlinePolicies[{i}].policy", doc))
    return out


def _allows(st: dict[str, Any]) -> bool:
    return st.get("Effect") == "Allow"


@resource_policy(
    name="iam-no-admin-wildcard", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=POLICY_TYPES,
    requirements=("IAM.1", "CKV_AWS_62", "CKV_AWS_63"),
    description="No IAM policy allows Action '*' on Resource '*' (full administrator).",
    remediation="List the actions the workload needs (e.g. s3:GetObject, s3:PutObject) on the resources it owns.",
    severity="high",
)
def iam_no_admin_wildcard(r: Resource) -> Iterator[str]:
    for path, doc in documents(r):
        for i, st in enumerate(statements(doc)):
            if _allows(st) and "*" in str_list(st.get("Action")) and "*" in str_list(st.get("Resource")):
                yield (f"{path} Statement[{i}] allows Action '*' on Resource '*' on {r.label}: full administrator. "
                       "Name the needed actions and resources.")


@resource_policy(
    name="iam-no-service-wildcard", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=POLICY_TYPES,
    requirements=("IAM.21", "CKV2_AWS_40"),
    description="IAM policies do not allow whole services ('s3:*', 'iam:*', ...).",
    remediation="Replace '<service>:*' with the specific actions needed.",
)
def iam_no_service_wildcard(r: Resource) -> Iterator[str]:
    for path, doc in documents(r):
        for i, st in enumerate(statements(doc)):
            if not _allows(st):
                continue
            wild = [a for a in str_list(st.get("Action")) if a.endswith(":*")]
            if wild:
                yield (f"{path} Statement[{i}] allows {', '.join(wild)} on {r.label}; list the specific actions "
                       "instead of the service wildcard.")


_DECRYPT = {"kms:decrypt", "kms:reencryptfrom", "kms:*", "*", "kms:re*", "kms:de*"}


@resource_policy(
    name="iam-no-decrypt-on-all-keys", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=POLICY_TYPES,
    requirements=("KMS.1", "KMS.2"),
    description="IAM policies do not allow kms:Decrypt or kms:ReEncryptFrom on all KMS keys.",
    remediation="Scope kms:Decrypt to the ARNs of the keys the workload uses.",
)
def iam_no_decrypt_on_all_keys(r: Resource) -> Iterator[str]:
    for path, doc in documents(r):
        for i, st in enumerate(statements(doc)):
            actions = {a.lower() for a in str_list(st.get("Action"))}
            if _allows(st) and actions & _DECRYPT and "*" in str_list(st.get("Resource")):
                yield (f"{path} Statement[{i}] allows kms:Decrypt/ReEncryptFrom on Resource '*' on {r.label}; "
                       "scope it to the key ARNs.")


_ADMIN_POLICIES = ("/AdministratorAccess", "/IAMFullAccess")


@resource_policy(
    name="iam-no-administrator-access", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(IAM_ROLE, IAM_ROLE_POLICY_ATTACHMENT, IAM_POLICY_ATTACHMENT),
    requirements=("CKV_AWS_274", "CKV2_AWS_56"),
    description="No role is given the AWS managed AdministratorAccess or IAMFullAccess policies.",
    remediation="Attach a customer managed policy with the needed actions instead.",
    severity="high",
)
def iam_no_administrator_access(r: Resource) -> Iterator[str]:
    arns = str_list(r.get("managedPolicyArns")) if r.type == IAM_ROLE else str_list(r.get("policyArn"))
    prop = "managedPolicyArns" if r.type == IAM_ROLE else "policyArn"
    for arn in arns:
        if arn.startswith("arn:aws") and arn.endswith(_ADMIN_POLICIES):
            yield f"{prop} attaches {arn} on {r.label}; attach a least-privilege customer managed policy instead."


@resource_policy(
    name="iam-no-user-policies", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=("aws:iam/userPolicy:UserPolicy", "aws:iam/userPolicyAttachment:UserPolicyAttachment",
           IAM_POLICY_ATTACHMENT),
    requirements=("IAM.2", "CKV_AWS_40"),
    description="IAM policies are attached to roles, never to users.",
    remediation="Grant permissions to a role (assumed via SSO/OIDC) instead of an IAM user.",
)
def iam_no_user_policies(r: Resource) -> Iterator[str]:
    if r.type == IAM_POLICY_ATTACHMENT:
        if str_list(r.get("users")):
            yield f"users is not empty on {r.label}; attach the policy to roles only."
    else:
        yield f"{r.label} attaches a policy to an IAM user; grant it to a role instead."


def _principals(st: dict[str, Any], kind: str) -> list[str]:
    principal = st.get("Principal")
    if principal == "*":
        return ["*"]
    return str_list(as_dict(principal).get(kind))


@resource_policy(
    name="iam-trust-no-wildcard-principal", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(IAM_ROLE,),
    requirements=("CKV_AWS_60",),
    description="Role trust policies name who may assume the role (no '*' principal without conditions).",
    remediation="Name the service, account role or OIDC provider in Principal, with conditions.",
    severity="high",
)
def iam_trust_no_wildcard_principal(r: Resource) -> Iterator[str]:
    for i, st in enumerate(statements(policy_document(r.get("assumeRolePolicy")))):
        if _allows(st) and "*" in _principals(st, "AWS") and not st.get("Condition"):
            yield (f"assumeRolePolicy Statement[{i}] lets any principal ('*') assume {r.label}; name the "
                   "principal.")


def _is_irsa(role: Resource) -> bool:
    for st in statements(policy_document(role.get("assumeRolePolicy"))):
        if any("oidc-provider/" in p or (p.startswith("arn:aws:iam::") and ":oidc-provider" in p)
               for p in _principals(st, "Federated")):
            return True
    return False


def _bucket_of(resource: str) -> str | None:
    if resource == "*" or resource.startswith("arn:aws:s3:::*"):
        return "*"
    if resource.startswith("arn:aws:s3:::"):
        return resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
    return None


@stack_policy(
    name="irsa-role-single-bucket", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(IAM_ROLE, IAM_ROLE_POLICY, IAM_ROLE_POLICY_ATTACHMENT, IAM_POLICY),
    requirements=("gap:irsa-bucket-scope",),
    description="A pod role (IRSA: trusted through the cluster's OIDC provider) reaches at most one S3 bucket.",
    remediation="Give each workload (Neo4j, Qdrant backup job) its own role whose S3 statements name only its "
                "bucket ARN and bucket/*.",
)
def irsa_role_single_bucket(s: Stack) -> Iterator[tuple[str, str | None]]:
    roles = [r for r in s.of_type(IAM_ROLE) if _is_irsa(r)]
    if not roles:
        return
    role_docs: dict[str, list[tuple[str, dict[str, Any]]]] = {r.urn: documents(r) for r in roles}
    for rp in s.of_type(IAM_ROLE_POLICY):
        for role in s.referenced(rp, "role", rp.get("role"), roles):
            role_docs[role.urn] += [(f"{rp.label} {p}", d) for p, d in documents(rp)]
    policies = s.of_type(IAM_POLICY)
    for att in s.of_type(IAM_ROLE_POLICY_ATTACHMENT):
        attached = s.referenced(att, "policyArn", att.get("policyArn"), policies)
        for role in s.referenced(att, "role", att.get("role"), roles):
            for pol in attached:
                role_docs[role.urn] += [(f"{pol.label} {p}", d) for p, d in documents(pol)]
    for role in roles:
        buckets: set[str] = set()
        for _, doc in role_docs[role.urn]:
            for st in statements(doc):
                if not _allows(st):
                    continue
                if not any(a.lower().startswith("s3:") or a == "*" for a in str_list(st.get("Action"))):
                    continue
                resources = st.get("Resource")
                if resources is UNKNOWN:
                    continue
                buckets |= {b for b in (_bucket_of(x) for x in str_list(resources)) if b}
        if "*" in buckets or len(buckets) > 1:
            shown = "all buckets ('*')" if "*" in buckets else ", ".join(sorted(buckets))
            yield (f"IRSA role {role.label} can reach {shown}: a compromised pod could read or delete other "
                   "stores' backups. Scope its S3 statements to one bucket ARN.", role.urn)


# -- KMS ------------------------------------------------------------------------------------------------------


@resource_policy(
    name="kms-key-rotation", concern=CONCERN, level=MANDATORY, types=(KMS_KEY,),
    requirements=("KMS.4", "CKV_AWS_7"),
    description="Symmetric customer managed KMS keys rotate (mandatory: a key that never rotates keeps every "
                "secret it ever protected behind one key material; rotation costs nothing per key).",
    remediation="Set enable_key_rotation=True.",
)
def kms_key_rotation(r: Resource) -> Iterator[str]:
    spec = r.get("customerMasterKeySpec")
    if spec not in (None, "SYMMETRIC_DEFAULT") or r.get("keyUsage") not in (None, "ENCRYPT_DECRYPT"):
        return
    if r.get("enableKeyRotation") is not UNKNOWN and not r.is_true("enableKeyRotation"):
        yield f"enableKeyRotation is {r.get('enableKeyRotation')!r} on {r.label}; set enable_key_rotation=True."


def _is_root(principal: str) -> bool:
    return principal.endswith(":root") or principal.isdigit()


@resource_policy(
    name="kms-key-policy-least-privilege", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(KMS_KEY, KMS_KEY_POLICY),
    requirements=("KMS.5", "CKV_AWS_33", "seed:kms-star-only-root"),
    description="KMS key policies grant kms:* only to the account root and never allow a '*' principal without "
                "conditions.",
    remediation="Give services and roles the specific kms actions they need (Encrypt, Decrypt, GenerateDataKey*, "
                "DescribeKey); keep kms:* for the account root statement only.",
    severity="high",
)
def kms_key_policy_least_privilege(r: Resource) -> Iterator[str]:
    if r.type == KMS_KEY and truthy(r.get("bypassPolicyLockoutSafetyCheck")):
        yield f"bypassPolicyLockoutSafetyCheck is true on {r.label}; remove it."
    for i, st in enumerate(statements(policy_document(r.get("policy")))):
        if not _allows(st):
            continue
        principals = _principals(st, "AWS") + _principals(st, "Service")
        if "*" in principals and not st.get("Condition"):
            yield (f"policy Statement[{i}] allows principal '*' without a condition on {r.label}; name the "
                   "principals.")
            continue
        actions = {a.lower() for a in str_list(st.get("Action"))}
        if actions & {"kms:*", "*"}:
            others = [p for p in principals if not _is_root(p)]
            if others:
                yield (f"policy Statement[{i}] grants kms:* to {', '.join(others)} on {r.label}; grant only the "
                       "actions they need (kms:* is for the account root statement).")


@resource_policy(
    name="rds-iam-authentication", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=(RDS_INSTANCE,),
    requirements=("RDS.10", "CKV_AWS_161"),
    description="RDS instances accept IAM database authentication (short-lived tokens instead of passwords).",
    remediation="Set iam_database_authentication_enabled=True.",
)
def rds_iam_authentication(r: Resource) -> Iterator[str]:
    value = r.get("iamDatabaseAuthenticationEnabled")
    if value is not UNKNOWN and not truthy(value):
        yield (f"iamDatabaseAuthenticationEnabled is {value!r} on {r.label}; set "
               "iam_database_authentication_enabled=True.")


@resource_policy(
    name="rds-custom-master-username", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=(RDS_INSTANCE,),
    requirements=("RDS.25",),
    description="RDS primaries do not use the engine's default master username.",
    remediation="Set username to a non-default name (not 'postgres').",
)
def rds_custom_master_username(r: Resource) -> Iterator[str]:
    src = r.get("replicateSourceDb")
    if src:
        return
    if r.get("username") in ("postgres", "admin", "root"):
        yield f"username is {r.get('username')!r} on {r.label}; use a non-default master username."


@resource_policy(
    name="rds-non-default-port", concern=CONCERN, level=ADVISORY, types=(RDS_INSTANCE,),
    requirements=("RDS.23",),
    description="RDS instances listen on a non-default port.",
    remediation="Set port to a value other than 5432 (and the clients' connection settings).",
    config={"allowDefaultPort": {"type": "boolean", "default": False,
                                 "description": "Accept 5432 (e.g. when clients cannot be reconfigured)."}},
    severity="low",
)
def rds_non_default_port(r: Resource) -> Iterator[str]:
    if truthy(r.ctx.get("allowDefaultPort", False)) or r.get("replicateSourceDb"):
        return
    port = r.get("port")
    if port is None or port == 5432:
        shown = "not set (5432)" if port is None else "5432"
        yield f"port is {shown} on {r.label}; set a non-default port, or allowDefaultPort in the pack config."


def _public_allows(policy: Any) -> list[int]:
    """Indexes of Allow statements for principal '*' without a condition."""
    out = []
    for i, st in enumerate(statements(policy_document(policy))):
        if _allows(st) and "*" in _principals(st, "AWS") and not st.get("Condition"):
            out.append(i)
    return out


@resource_policy(
    name="s3-bucket-policy-not-public", concern="network", level=MANDATORY, types=("aws:s3/bucketPolicy:BucketPolicy",),
    requirements=("S3.2", "S3.3", "S3.6", "CKV_AWS_70"),
    description="S3 bucket policies never allow '*' (anyone) without a condition.",
    remediation="Name the principals (roles of this account, the replication role) instead of '*'.",
    severity="critical",
)
def s3_bucket_policy_not_public(r: Resource) -> Iterator[str]:
    for i in _public_allows(r.get("policy")):
        yield (f"policy Statement[{i}] allows principal '*' without a condition on {r.label}: the backups are "
               "public. Name the principals.")


@resource_policy(
    name="sns-topic-policy-not-public", concern="network", level=MANDATORY,
    types=("aws:sns/topic:Topic", "aws:sns/topicPolicy:TopicPolicy"),
    requirements=("SNS.4", "CKV_AWS_169"),
    description="SNS topic policies never allow '*' (anyone) without a condition.",
    remediation="Allow only cloudwatch.amazonaws.com (with aws:SourceAccount) and named roles to publish.",
    severity="high",
)
def sns_topic_policy_not_public(r: Resource) -> Iterator[str]:
    for i in _public_allows(r.get("policy")):
        yield (f"policy Statement[{i}] allows principal '*' without a condition on {r.label}; anyone could publish "
               "or subscribe. Name the principals or add an aws:SourceAccount condition.")


ELASTICACHE_USER = "aws:elasticache/user:User"
#: ACL categories that contain commands which write (or can write: EVAL, MIGRATE, RESTORE) data.
_WRITING_CATEGORIES = frozenset({
    "all", "write", "admin", "dangerous", "keyspace", "scripting", "string", "list", "hash", "set", "sortedset",
    "stream", "bitmap", "hyperloglog", "geo", "fast", "slow", "blocking"})
#: Write commands a read-only user might be granted one by one.
_WRITE_COMMANDS = frozenset({
    "set", "setex", "psetex", "setnx", "mset", "msetnx", "getset", "getdel", "getex", "append", "incr", "incrby",
    "incrbyfloat", "decr", "decrby", "setrange", "del", "unlink", "expire", "pexpire", "expireat", "pexpireat",
    "persist", "rename", "renamenx", "move", "copy", "restore", "migrate", "flushall", "flushdb", "swapdb",
    "hset", "hsetnx", "hmset", "hdel", "hincrby", "hincrbyfloat", "lpush", "rpush", "lpushx", "rpushx", "lpop",
    "rpop", "lset", "lrem", "ltrim", "linsert", "lmove", "blmove", "blpop", "brpop", "sadd", "srem", "spop",
    "smove", "sinterstore", "sunionstore", "sdiffstore", "zadd", "zrem", "zincrby", "zpopmin", "zpopmax",
    "zremrangebyscore", "zremrangebyrank", "zremrangebylex", "zunionstore", "zinterstore", "zdiffstore",
    "zrangestore", "xadd", "xdel", "xtrim", "xgroup", "xack", "xclaim", "xautoclaim", "pfadd", "pfmerge", "setbit",
    "bitop", "bitfield", "geoadd", "georadius", "georadiusbymember", "geosearchstore", "eval", "evalsha",
    "eval_ro", "evalsha_ro", "fcall", "function", "script", "config", "debug", "shutdown", "acl", "module"})


def _writes(token: str) -> bool:
    """``+@<category>`` of a category holding writes, or ``+<write command>[|subcommand]``."""
    if token.startswith("+@"):
        return token[2:] in _WRITING_CATEGORIES
    return token.startswith("+") and token[1:].split("|", 1)[0] in _WRITE_COMMANDS


def write_grants(access_string: str) -> list[str]:
    """The grants of an ElastiCache/Valkey ACL access string that leave write commands allowed, evaluated in
    order (a later ``-@write`` / ``-@all`` revokes earlier category grants)."""
    grants: list[str] = []
    for token in access_string.split():
        t = token.lower()
        if t in ("allcommands", "+@all"):
            grants.append(token)
        elif t in ("nocommands", "-@all", "-@write"):
            grants = [g for g in grants if not g.lower().startswith("+@") and g.lower() != "allcommands"] \
                if t == "-@write" else []
        elif _writes(t):
            grants.append(token)
        elif t.startswith("-") and not t.startswith("-@"):
            grants = [g for g in grants if g.lower() != "+" + t[1:]]
    return grants


@resource_policy(
    name="elasticache-readonly-user-read-only", concern=CONCERN, level=MANDATORY, types=(ELASTICACHE_USER,),
    requirements=("gap:declared-intent", "seed:redis-rbac"),
    description="An ElastiCache user whose name says read-only (readonly / read_only) is granted no write "
                "command: no +@all/allcommands, +@write, a category holding writes (@keyspace, @string, @fast, "
                "@scripting, ...) or a write command, unless a later -@write / -@all revokes it.",
    remediation="Grant read-only users '-@all +@read +@connection' plus the cluster read commands they need "
                "(components.aws.redis.READONLY_ACCESS).",
    severity="high",
)
def elasticache_readonly_user_read_only(r: Resource) -> Iterator[str]:
    name = r.get("userName")
    access = r.get("accessString")
    if not isinstance(name, str) or not isinstance(access, str):
        return
    if "readonly" not in name.lower().replace("_", "").replace("-", ""):
        return
    grants = write_grants(access)
    if grants:
        yield (f"accessString of read-only user {name!r} on {r.label} grants {', '.join(grants)}: the user can "
               "write. Remove the grant (keep '-@all +@read +@connection').")

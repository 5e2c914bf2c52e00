"""Kubernetes workloads (Neo4j and Qdrant StatefulSets, their backup CronJobs, Prometheus/Alertmanager on EKS).

Every kind that carries a pod template — Pod, Deployment, StatefulSet, DaemonSet, Job
(``spec.template``) and CronJob (``spec.jobTemplate.spec.template``) — is checked with the same rules.
Container hardening (non-root, not privileged, no privilege escalation, no host namespaces or
hostPath: mandatory, they are the exposure of the node); resource requests and limits, read-only root
filesystems, the RuntimeDefault seccomp profile, no service-account token in pods that do not call the
Kubernetes API, secrets as files rather than environment variables and pinned images (advisory,
mandatory in production); a NetworkPolicy for every namespace that runs a StatefulSet, and encrypted
StorageClasses for every claim (stack policies).

Advisory outside production because a third-party image may not comply (an image that writes into its
own filesystem at start, one that reads a secret only from the environment); every image of this
project does, so production holds all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policies._base import (
    ADVISORY,
    K8S_DEPLOYMENT,
    K8S_NETWORK_POLICY,
    K8S_POD,
    K8S_PVC,
    K8S_STATEFULSET,
    K8S_STORAGE_CLASS,
    MANDATORY,
    UNKNOWN,
    Resource,
    Stack,
    as_dict,
    as_list,
    dig,
    resource_policy,
    stack_policy,
    truthy,
)

CONCERN = "kubernetes"
K8S_DAEMONSET = "kubernetes:apps/v1:DaemonSet"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_CRONJOB = "kubernetes:batch/v1:CronJob"
WORKLOADS = (K8S_STATEFULSET, K8S_DEPLOYMENT, K8S_DAEMONSET, K8S_JOB, K8S_CRONJOB, K8S_POD)
"""Every kind that carries a pod template: the same pod-security rules apply to all of them."""

#: Where each kind keeps its pod template (a Pod is its own template).
TEMPLATE_PATH: dict[str, tuple[str, ...]] = {
    K8S_POD: (),
    K8S_STATEFULSET: ("spec", "template"),
    K8S_DEPLOYMENT: ("spec", "template"),
    K8S_DAEMONSET: ("spec", "template"),
    K8S_JOB: ("spec", "template"),
    K8S_CRONJOB: ("spec", "jobTemplate", "spec", "template"),
}


def pod_template(r: Resource) -> tuple[str, dict[str, Any]]:
    """(path prefix, pod template: ``metadata`` + ``spec``) of a workload; a Pod is its own template."""
    path = TEMPLATE_PATH.get(r.type, ("spec", "template"))
    return ".".join(path), as_dict(r.get(*path) if path else r.props)


def pod_spec(r: Resource) -> tuple[str, dict[str, Any]]:
    """(path prefix, pod spec) of a workload: ``spec`` of a Pod, ``spec.template.spec`` of a Deployment,
    StatefulSet, DaemonSet or Job, ``spec.jobTemplate.spec.template.spec`` of a CronJob."""
    prefix, template = pod_template(r)
    return (f"{prefix}.spec" if prefix else "spec"), as_dict(template.get("spec"))


def containers(r: Resource) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(path, container, pod spec) for every container and init container."""
    prefix, spec = pod_spec(r)
    for kind in ("initContainers", "containers"):
        for i, c in enumerate(as_list(spec.get(kind))):
            if isinstance(c, dict):
                yield f"{prefix}.{kind}[{i}]", c, spec


def _effective(c: dict[str, Any], spec: dict[str, Any], key: str) -> Any:
    value = dig(c, "securityContext", key)
    return value if value is not None else dig(spec, "securityContext", key)


@resource_policy(
    name="k8s-run-as-non-root", concern=CONCERN, level=MANDATORY, types=WORKLOADS,
    requirements=("CKV_K8S_23", "CKV_K8S_40"),
    description="Workload containers run as a non-root user.",
    remediation="Set securityContext.runAsNonRoot=true and runAsUser to the image's unprivileged UID "
                "(neo4j 7474, qdrant 1000).",
    severity="high",
)
def k8s_run_as_non_root(r: Resource) -> Iterator[str]:
    for path, c, spec in containers(r):
        non_root = _effective(c, spec, "runAsNonRoot")
        user = _effective(c, spec, "runAsUser")
        if UNKNOWN in (non_root, user):
            continue
        if user == 0 or user == "0":
            yield (f"{path}.securityContext.runAsUser is 0 on {r.label}: the container runs as root. Set "
                   "runAsUser to an unprivileged UID and runAsNonRoot: true.")
        elif not truthy(non_root) and user is None:
            yield (f"{path}.securityContext.runAsNonRoot is not true (and no runAsUser) on {r.label}: the image's "
                   "default user may be root. Set runAsNonRoot: true and runAsUser.")


@resource_policy(
    name="k8s-no-privileged", concern=CONCERN, level=MANDATORY, types=WORKLOADS,
    requirements=("CKV_K8S_16", "CKV_K8S_39"),
    description="No workload container is privileged or adds SYS_ADMIN.",
    remediation="Remove securityContext.privileged and capabilities.add; drop ALL capabilities.",
    severity="critical",
)
def k8s_no_privileged(r: Resource) -> Iterator[str]:
    for path, c, _ in containers(r):
        if truthy(dig(c, "securityContext", "privileged")):
            yield f"{path}.securityContext.privileged is true on {r.label}; remove it (full access to the node)."
        added = [str(a) for a in as_list(dig(c, "securityContext", "capabilities", "add"))]
        if any(a.upper() in ("SYS_ADMIN", "CAP_SYS_ADMIN", "ALL") for a in added):
            yield f"{path}.securityContext.capabilities.add contains {added} on {r.label}; drop it."


@resource_policy(
    name="k8s-no-privilege-escalation", concern=CONCERN, level=MANDATORY, types=WORKLOADS,
    requirements=("CKV_K8S_20",),
    description="Workload containers set allowPrivilegeEscalation: false.",
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
    severity="high",
)
def k8s_no_privilege_escalation(r: Resource) -> Iterator[str]:
    for path, c, _ in containers(r):
        value = dig(c, "securityContext", "allowPrivilegeEscalation")
        if value is not UNKNOWN and value is not False and value != "false":
            yield (f"{path}.securityContext.allowPrivilegeEscalation is {value!r} on {r.label} (Kubernetes defaults "
                   "to true); set it to false.")


@resource_policy(
    name="k8s-no-host-access", concern=CONCERN, level=MANDATORY, types=WORKLOADS,
    requirements=("CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19", "CKV_K8S_27"),
    description="Pods do not share the host's network, PID or IPC namespace and mount no hostPath volumes.",
    remediation="Remove hostNetwork/hostPID/hostIPC and hostPath volumes; use PersistentVolumeClaims.",
    severity="high",
)
def k8s_no_host_access(r: Resource) -> Iterator[str]:
    prefix, spec = pod_spec(r)
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if truthy(spec.get(key)):
            yield f"{prefix}.{key} is true on {r.label}; remove it."
    for i, v in enumerate(as_list(spec.get("volumes"))):
        if isinstance(v, dict) and v.get("hostPath") is not None:
            path = dig(v, "hostPath", "path")
            yield (f"{prefix}.volumes[{i}].hostPath ({path!r}) is mounted on {r.label}; use a PersistentVolumeClaim "
                   "instead.")


@resource_policy(
    name="k8s-resource-limits", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=WORKLOADS,
    requirements=("CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13"),
    description="Every container and init container sets CPU and memory requests and a memory limit (CPU limit "
                "optional: throttling a database hurts more than sharing idle CPU). Mandatory in production.",
    remediation="Set resources.requests.{cpu,memory} and resources.limits.memory (Neo4j: heap + page cache + "
                "overhead).",
)
def k8s_resource_limits(r: Resource) -> Iterator[str]:
    for path, c, _ in containers(r):
        resources = c.get("resources")
        if resources is UNKNOWN:
            continue
        missing = [f"{k}.{m}" for k, m in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))
                   if dig(resources, k, m) in (None, "")]
        if missing:
            yield (f"{path}.resources lacks {', '.join(missing)} on {r.label}; set them so the scheduler can place "
                   "the pod and the kernel does not OOM-kill neighbours.")


@resource_policy(
    name="k8s-read-only-root-filesystem", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=WORKLOADS, requirements=("CKV_K8S_22",),
    description="Workload containers use a read-only root filesystem (mandatory in production; advisory elsewhere "
                "because an image that writes into its own filesystem at start cannot comply until each "
                "written path is known and mounted).",
    remediation="Set securityContext.readOnlyRootFilesystem: true and mount writable paths as volumes (Neo4j: "
                "/data, /logs, /run, /tmp and $NEO4J_HOME/conf, which its entrypoint rewrites at each start).",
    severity="low",
)
def k8s_read_only_root_filesystem(r: Resource) -> Iterator[str]:
    for path, c, _ in containers(r):
        value = dig(c, "securityContext", "readOnlyRootFilesystem")
        if value is not UNKNOWN and not truthy(value):
            yield (f"{path}.securityContext.readOnlyRootFilesystem is {value!r} on {r.label}; set it to true and "
                   "mount data/log/tmp directories as volumes.")


@resource_policy(
    name="k8s-image-pinned", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=WORKLOADS,
    requirements=("CKV_K8S_14", "CKV_K8S_43"),
    description="Workload images are pinned to a version tag or digest (never latest or untagged).",
    remediation="Use image 'neo4j:5.26.0' or 'qdrant/qdrant@sha256:...'.",
)
def k8s_image_pinned(r: Resource) -> Iterator[str]:
    from policies.docker import image_problem

    for path, c, _ in containers(r):
        problem = image_problem(c.get("image"))
        if problem:
            yield f"{path}.image {problem} on {r.label}; pin a version tag or a digest."


@resource_policy(
    name="k8s-seccomp-runtime-default", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=WORKLOADS, requirements=("CKV_K8S_31", "CKV_K8S_32"),
    description="Every pod runs under the RuntimeDefault (or a Localhost) seccomp profile, set on the pod or on "
                "every container; never Unconfined. Mandatory in production.",
    remediation="Set the pod's securityContext.seccompProfile.type: RuntimeDefault.",
    severity="high",
)
def k8s_seccomp_runtime_default(r: Resource) -> Iterator[str]:
    prefix, spec = pod_spec(r)
    pod_type = dig(spec, "securityContext", "seccompProfile", "type")
    if pod_type is UNKNOWN:
        return
    for path, c, _ in containers(r):
        own = dig(c, "securityContext", "seccompProfile", "type")
        value = own if own is not None else pod_type
        if value is UNKNOWN or value in ("RuntimeDefault", "Localhost"):
            continue
        where = f"{path}.securityContext.seccompProfile.type" if own is not None \
            else f"{prefix}.securityContext.seccompProfile.type"
        state = "not set (the container runs Unconfined)" if value is None else f"{value!r}"
        yield (f"{where} is {state} for container {c.get('name')!r} on {r.label}: every syscall reaches the node's "
               "kernel. Set the pod's securityContext.seccompProfile.type: RuntimeDefault.")


API_ANNOTATION = "data-platform/kubernetes-api"
"""Pod-template annotation naming why a pod calls the Kubernetes API (and may mount a token)."""


@resource_policy(
    name="k8s-no-service-account-token", concern=CONCERN, level=ADVISORY, production_level=MANDATORY,
    types=WORKLOADS, requirements=("CKV_K8S_38",),
    description="Pods that do not call the Kubernetes API set automountServiceAccountToken: false (the default "
                "mounts an API token into every container). A pod that does call the API says why in the "
                f"pod-template annotation {API_ANNOTATION!r}. IRSA is unaffected: the EKS pod identity webhook "
                "injects its web-identity token as a projected volume of its own. Mandatory in production.",
    remediation="Set the pod spec's automountServiceAccountToken: false (or annotate the pod template with "
                f"{API_ANNOTATION}: <why it calls the API>).",
)
def k8s_no_service_account_token(r: Resource) -> Iterator[str]:
    prefix, template = pod_template(r)
    spec = as_dict(template.get("spec"))
    value = spec.get("automountServiceAccountToken")
    if value is UNKNOWN or value is False or value == "false":
        return
    reason = as_dict(dig(template, "metadata", "annotations")).get(API_ANNOTATION)
    if (isinstance(reason, str) and reason.strip()) or reason is UNKNOWN:
        return
    spec_path = f"{prefix}.spec" if prefix else "spec"
    state = "not set (Kubernetes defaults to true)" if value is None else f"{value!r}"
    yield (f"{spec_path}.automountServiceAccountToken is {state} on {r.label}: every container gets a Kubernetes "
           "API token it does not use. Set automountServiceAccountToken: false (IRSA's token is a projected volume "
           f"the EKS webhook adds regardless), or annotate the pod template with {API_ANNOTATION}: <why>.")


@resource_policy(
    name="k8s-secrets-as-files", concern=CONCERN, level=ADVISORY, production_level=MANDATORY, types=WORKLOADS,
    requirements=("CKV_K8S_35",),
    description="Containers read Secrets from mounted files, not environment variables (env is inherited by every "
                "child process, shown by 'kubectl describe' tooling and dumped in crash reports). Mandatory in "
                "production; advisory elsewhere because some images read a secret only from the environment "
                "(Neo4j reads NEO4J_AUTH_PATH, Qdrant a config file, so both comply).",
    remediation="Mount the Secret as a volume (defaultMode 0440) and point the image at the file: Neo4j "
                "NEO4J_AUTH_PATH, Qdrant --config-path with service.api_key, scripts read the file.",
)
def k8s_secrets_as_files(r: Resource) -> Iterator[str]:
    for path, c, _ in containers(r):
        for i, e in enumerate(as_list(c.get("env"))):
            ref = dig(e, "valueFrom", "secretKeyRef")
            if isinstance(ref, dict) or ref is UNKNOWN:
                yield (f"{path}.env[{i}] ({dig(e, 'name')!r}) on {r.label} takes Secret "
                       f"{dig(ref, 'name')!r} key {dig(ref, 'key')!r} from the environment; remove the variable, mount "
                       "the Secret as a file and point the image at it (e.g. NEO4J_AUTH_PATH).")
        for i, e in enumerate(as_list(c.get("envFrom"))):
            if dig(e, "secretRef") is not None:
                yield (f"{path}.envFrom[{i}] on {r.label} exports Secret {dig(e, 'secretRef', 'name')!r} as "
                       "environment variables; remove it and mount the Secret as a file.")


def _selects(selector: Any, labels: dict[str, Any]) -> bool:
    """A NetworkPolicy podSelector selects pods with ``labels`` (empty selector: every pod;
    matchExpressions are taken as matching, they are not evaluated)."""
    if selector is UNKNOWN or selector is None:
        return selector is UNKNOWN
    match = as_dict(dig(selector, "matchLabels"))
    if dig(selector, "matchExpressions"):
        return True
    return all(labels.get(k) == v for k, v in match.items())


def _namespace(r: Resource) -> str:
    ns = r.get("metadata", "namespace")
    return ns if isinstance(ns, str) and ns else "default"


@stack_policy(
    name="k8s-network-policy", concern=CONCERN, level=MANDATORY, types=(K8S_STATEFULSET, K8S_NETWORK_POLICY),
    requirements=("CKV2_K8S_6", "gap:statefulset-network-policy"),
    description="Every namespace that runs a StatefulSet has a NetworkPolicy selecting its pods.",
    remediation="Create a networking.k8s.io/v1 NetworkPolicy in the namespace whose podSelector matches the "
                "StatefulSet's pod labels and admits only the client pods on the service ports.",
    severity="high",
)
def k8s_network_policy(s: Stack) -> Iterator[tuple[str, str | None]]:
    policies = s.of_type(K8S_NETWORK_POLICY)
    for sts in s.of_type(K8S_STATEFULSET):
        labels = as_dict(sts.get("spec", "template", "metadata", "labels"))
        ns = _namespace(sts)
        selected = False
        for np in policies:
            if _namespace(np) != ns:
                continue
            selector = np.get("spec", "podSelector")
            if _selects(selector, labels):
                selected = True
                break
        if not selected:
            yield (f"namespace {ns} runs StatefulSet {sts.label} but no NetworkPolicy selects its pods: every pod in "
                   "the cluster can reach the database ports. Add a NetworkPolicy for it.", sts.urn)


@stack_policy(
    name="k8s-encrypted-storage-class", concern=CONCERN, level=MANDATORY,
    types=(K8S_PVC, K8S_STATEFULSET, K8S_STORAGE_CLASS),
    requirements=("gap:k8s-storage-class-encryption",),
    description="Every PersistentVolumeClaim and StatefulSet volumeClaimTemplate uses a StorageClass of the stack "
                "with parameters.encrypted 'true'.",
    remediation="Create a storage.k8s.io/v1 StorageClass (provisioner ebs.csi.aws.com, parameters {encrypted: "
                "'true', kmsKeyId: <key ARN>}) and set storageClassName on every claim.",
    severity="high",
)
def k8s_encrypted_storage_class(s: Stack) -> Iterator[tuple[str, str | None]]:
    classes = s.of_type(K8S_STORAGE_CLASS)
    encrypted = {c.urn for c in classes if str(dig(c.props, "parameters", "encrypted")).lower() == "true"}
    claims: list[tuple[Resource, str, Any]] = []
    for pvc in s.of_type(K8S_PVC):
        claims.append((pvc, "spec.storageClassName", pvc.get("spec", "storageClassName")))
    for sts in s.of_type(K8S_STATEFULSET):
        for i, t in enumerate(as_list(sts.get("spec", "volumeClaimTemplates"))):
            claims.append((sts, f"spec.volumeClaimTemplates[{i}].spec.storageClassName",
                           dig(t, "spec", "storageClassName")))
    for owner, path, name in claims:
        if name is None or name == "":
            yield (f"{path} is not set on {owner.label}: the cluster's default StorageClass (gp2, unencrypted unless "
                   "the account default says so) is used. Set it to an encrypted StorageClass.", owner.urn)
            continue
        if name is UNKNOWN:
            hits = [c for c in classes if c.urn in owner.dependencies]
        else:
            hits = [c for c in classes if name in {dig(c.props, "metadata", "name"), c.name}]
        if not hits or not any(c.urn in encrypted for c in hits):
            what = "a StorageClass without parameters.encrypted 'true'" if hits else "no StorageClass of this stack"
            yield (f"{path} is {name!r} on {owner.label}, which is {what}; use a StorageClass with "
                   "parameters.encrypted 'true' and a kmsKeyId.", owner.urn)

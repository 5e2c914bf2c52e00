"""Keys and secrets: KMS customer managed keys, Secrets Manager secrets (and their replicas), SSM
parameters.

KMS: a key is billed per month; each of its first two key-material rotations adds the same monthly
charge again (so a rotated key costs 1× in its first year, 2× in the second, 3× from the third).
The estimate prices the first year and says so. Requests are usage without an assumption.
"""

from __future__ import annotations

from cost.rules.base import Charge, Context, Res, as_list, dig, free, truthy

KMS_KEY = "aws:kms/key:Key"
KMS_REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"
SECRET = "aws:secretsmanager/secret:Secret"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"

PRICE_KEYS = ("kms:key", "secretsmanager:secret")


def kms_key(r: Res, ctx: Context) -> list[Charge]:
    """A customer managed key per month (first year of rotations)."""
    rotation = (
        "; rotation on: each of the first two yearly rotations adds the key price again (year 2: 2×, "
        "year 3 on: 3×), this is year 1"
        if truthy(r.get("enableKeyRotation"))
        else ""
    )
    return [ctx.per_unit("key", "kms:key", r.region, 1, f"KMS key {{price}} × {{qty}}{rotation}; requests not modelled",
                         what="KMS customer managed key", service="KMS")]


def secret(r: Res, ctx: Context) -> list[Charge]:
    """A secret per month, plus one per replica region (each replica is billed as a secret)."""
    regions = [r.region] + [
        str(dig(rep, "region")) for rep in as_list(r.get("replicas")) if isinstance(dig(rep, "region"), str)
    ]
    out = []
    for i, region in enumerate(regions):
        item = "secret" if i == 0 else f"replica in {region}"
        out.append(ctx.per_unit(item, "secretsmanager:secret", region, 1,
                                f"Secrets Manager {item} {{price}} × {{qty}}; API requests not modelled",
                                what="Secrets Manager secret", service="Secrets Manager"))
    return out


def ssm_parameter(r: Res, ctx: Context) -> list[Charge]:
    """Standard parameters are free; advanced ones are not in the table."""
    tier = r.text("tier") or "Standard"
    if tier == "Standard":
        return [free("standard-tier SSM parameter")]
    return [ctx.missing("parameter", f"SSM {tier} parameter", "SSM", r.region)]


RULES = {KMS_KEY: kms_key, KMS_REPLICA_KEY: kms_key, SECRET: secret, SSM_PARAMETER: ssm_parameter}

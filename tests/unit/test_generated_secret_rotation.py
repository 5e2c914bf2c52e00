"""Issue 17: the Neo4j password and Qdrant API key secrets (components/aws/workload.py generated_secret)
state why they have no rotation schedule, in an AWS-valid tag value."""

from __future__ import annotations

import re

import pulumi

from components.aws.workload import GENERATED_SECRET_ROTATION_REASON, generated_secret
from review.program import record


def test_generated_secret_carries_the_rotation_exemption() -> None:
    class Parent(pulumi.ComponentResource):
        def __init__(self) -> None:
            super().__init__("test:index:Parent", "p")

    def program() -> None:
        generated_secret(Parent(), "graph-password", "arn:aws:kms:us-east-1:1:key/k", {"team": "data"}, False,
                         path="neo4j/password", description="neo4j")

    run = record(program, stack="production")
    (secret,) = run.by_type("aws:secretsmanager/secret:Secret")
    assert secret.inputs["tags"] == {"team": "data", "rotation-exempt": GENERATED_SECRET_ROTATION_REASON}
    assert re.fullmatch(r"[\w .:/=+\-@]{20,256}", GENERATED_SECRET_ROTATION_REASON)

"""boto3 plumbing shared by the commands: one client per (service, region), KMS key identity.

Resources of one stack live in two regions (the primary and the DR region), so every client is
created for an explicit region (``session.client(service, region_name=...)``) and never from the
ambient default region.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

#: Bounded timeouts and retries: during a regional outage (what a DR drill rehearses) a call to the
#: failed region must give up in seconds, not hang on the SDK defaults.
CLIENT_CONFIG = Config(connect_timeout=10, read_timeout=60, retries={"mode": "standard", "max_attempts": 4})


class Clients:
    """Per-region boto3 clients over one session, created on first use and then reused."""

    def __init__(self, session: boto3.Session | None = None) -> None:
        self.session = session or boto3.Session()
        self._clients: dict[tuple[str, str], Any] = {}
        self._keys: dict[tuple[str, str], str] = {}

    def get(self, service: str, region: str) -> Any:
        """The ``service`` client for ``region``."""
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.session.client(
                service, region_name=region, config=CLIENT_CONFIG
            )
        return self._clients[key]

    def key_arn(self, key: str | None, region: str) -> str | None:
        """The key ARN that ``key`` (key id, key ARN, alias name or alias ARN) designates.

        Services echo back whatever form of key id they were given, so two spellings of one key
        compare equal only after this. When KMS cannot be asked (no permission), the input is
        returned unchanged and compared literally.
        """
        if not key:
            return None
        if key.startswith("arn:") and ":key/" in key:
            return key
        cache_key = (key, _region_of(key) or region)
        if cache_key not in self._keys:
            try:
                meta = self.get("kms", cache_key[1]).describe_key(KeyId=key)["KeyMetadata"]
                self._keys[cache_key] = str(meta["Arn"])
            except (ClientError, BotoCoreError):
                self._keys[cache_key] = key
        return self._keys[cache_key]

    def same_key(self, actual: str | None, expected: str | None, region: str) -> bool:
        """Whether two key references designate the same KMS key."""
        if not actual or not expected:
            return False
        return self.key_arn(actual, region) == self.key_arn(expected, region)


def _region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if arn.startswith("arn:") and len(parts) > 3 and parts[3] else None


def region_of_arn(arn: str) -> str | None:
    """The region field of an ARN (``arn:aws:rds:us-west-2:123:db:x`` → ``us-west-2``), if any."""
    return _region_of(arn)


def error_code(err: ClientError) -> str:
    """The AWS error code of a client error (``DBInstanceNotFound``, ``NoSuchBucket``, ...)."""
    return str(err.response.get("Error", {}).get("Code", ""))

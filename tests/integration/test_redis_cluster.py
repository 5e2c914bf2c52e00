"""Redis booted from the rendered redis.conf/users.acl: a six-node cluster (3 shards x primary +
replica) created with redis-cli as cluster_admin, ACL users, and a failover after a primary is
killed, with every write acknowledged by ``WAIT 1`` readable afterwards."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.exceptions import NoPermissionError, ResponseError
from redis.retry import Retry

try:
    from tests.integration import servers
except ImportError:  # pytest "prepend" import of tests/integration without __init__.py
    import servers  # type: ignore[no-redef]

from components.aws.redis import APP_ACCESS, READONLY_ACCESS
from infra.topology import REDIS_CLUSTER_NODE_TIMEOUT_MS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rc() -> Iterator[servers.RedisClusterHandle]:
    try:
        servers.require("redis-server", "redis-cli")
        servers.service_user()
    except servers.MissingBinary as err:
        pytest.fail(str(err), pytrace=False)
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(servers.workdir("dp-redis-"))
        yield servers.start_redis_cluster(stack, root)


def test_six_nodes_form_three_shards_of_primary_and_replica(rc: servers.RedisClusterHandle) -> None:
    shards = rc.shards()
    assert len(shards) == 3
    slots: list[int] = []
    for shard in shards:
        roles = sorted(n["role"] for n in shard["nodes"])
        assert roles == ["master", "replica"], shard
        ranges = shard["slots"]
        slots += [s for lo, hi in zip(ranges[::2], ranges[1::2], strict=True) for s in range(lo, hi + 1)]
    assert sorted(slots) == list(range(16384))
    nodes = rc.nodes[0].client().execute_command("CLUSTER NODES")
    flags = [v["flags"] for v in nodes.values()] if isinstance(nodes, dict) else []
    assert sum("master" in f for f in flags) == 3 and sum("slave" in f for f in flags) == 3
    config = rc.nodes[0].client().config_get("*")
    assert config["cluster-node-timeout"] == str(REDIS_CLUSTER_NODE_TIMEOUT_MS)
    assert config["maxmemory-policy"] == rc.settings.maxmemory_policy == "allkeys-lru"
    assert (config["appendonly"], config["appendfsync"]) == ("yes", "everysec")
    assert config["save"] == "3600 1 300 100 60 10000"


def test_acl_users(rc: servers.RedisClusterHandle) -> None:
    c = rc.creds
    app = rc.cluster_client(c.app_user, c.app_password)
    app.set("app:acl:1", "v1")
    assert app.get("app:acl:1") == "v1"
    with pytest.raises(NoPermissionError):
        app.set("other:acl:1", "v")  # outside ~app:*
    with pytest.raises(NoPermissionError):
        app.execute_command("FLUSHALL", target_nodes=redis.RedisCluster.PRIMARIES)  # @dangerous
    ro = rc.cluster_client(c.readonly_user, c.readonly_password)
    assert ro.get("app:acl:1") == "v1"
    with pytest.raises(NoPermissionError):
        ro.set("app:acl:1", "v2")
    assert app.get("app:acl:1") == "v1"
    no_retry = Retry(NoBackoff(), 0)  # fail fast: redis-py retries failed handshakes with backoff
    anonymous = redis.Redis(host=servers.HOST, port=rc.nodes[0].port, socket_timeout=3, retry=no_retry)
    with pytest.raises((redis.AuthenticationError, ResponseError)):
        anonymous.get("app:acl:1")  # user default is off
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host=servers.HOST, port=rc.nodes[0].port, username=c.app_user, password="wrong",
                    retry=no_retry).ping()
    acl = rc.nodes[0].client().execute_command("ACL LIST")
    text = "\n".join(acl)
    for secret in (c.app_password, c.readonly_password, c.admin_password, c.replication_password):
        assert secret not in text
    assert "user default off" in text


def _elasticache_user(rc: servers.RedisClusterHandle, user: str, access_string: str, password: str) -> None:
    """Create ``user`` on every node with an ElastiCache RBAC access string: ElastiCache access strings are
    Redis ACL rules (the password is set through the API, here with ``>password``)."""
    for node in rc.nodes:
        node.client().execute_command("ACL", "SETUSER", user, "reset", *access_string.split(), f">{password}")


@pytest.mark.parametrize("access", [READONLY_ACCESS, APP_ACCESS], ids=["readonly_user", "app_user"])
def test_elasticache_access_strings_work_with_a_cluster_client(rc: servers.RedisClusterHandle, access: str) -> None:
    """The exact access strings the AWS stack gives ElastiCache users, applied to the real cluster: a
    cluster-mode client must discover the shards (CLUSTER SLOTS/SHARDS are @slow, not @read) and read."""
    c = rc.creds
    rc.cluster_client(c.app_user, c.app_password).set("app:aws-acl:1", "v1")
    _elasticache_user(rc, "aws_user", access, "aws-user-password-0123456789")
    client = rc.cluster_client("aws_user", "aws-user-password-0123456789")
    assert client.get("app:aws-acl:1") == "v1"
    node = rc.nodes[0].client("aws_user", "aws-user-password-0123456789")
    assert node.execute_command("CLUSTER", "SHARDS")
    if access == READONLY_ACCESS:
        with pytest.raises(NoPermissionError):
            client.set("app:aws-acl:1", "v2")


def test_readonly_access_string_without_cluster_commands_cannot_connect(rc: servers.RedisClusterHandle) -> None:
    """The test above can fail: the previous readonly access string (no cluster commands) leaves a
    cluster client unable to discover the slots."""
    _elasticache_user(rc, "aws_old_ro", "on ~* -@all +@read +@connection", "aws-user-password-0123456789")
    with pytest.raises((NoPermissionError, redis.exceptions.RedisClusterException)):
        rc.cluster_client("aws_old_ro", "aws-user-password-0123456789").get("app:aws-acl:1")


def test_primary_loss_fails_over_and_keeps_acknowledged_writes(rc: servers.RedisClusterHandle) -> None:
    """Last on purpose: it kills a primary of the module's cluster."""
    c = rc.creds
    app = rc.cluster_client(c.app_user, c.app_password)
    keys = [f"app:wait:{i}" for i in range(300)]
    by_node: dict[str, list[str]] = {}
    for k in keys:
        by_node.setdefault(app.get_node_from_key(k).name, []).append(k)
    assert len(by_node) == 3, "keys should land on every shard"
    for name, group in by_node.items():
        node = app.get_node(node_name=name)
        assert node is not None and node.redis_connection is not None
        pipe = node.redis_connection.pipeline(transaction=False)
        for k in group:
            pipe.set(k, k.upper())
        pipe.execute_command("WAIT", 1, 2000)
        *oks, acked = pipe.execute()
        assert all(oks) and acked >= 1, f"{name}: WAIT 1 acknowledged by {acked} replicas"

    victim_key = "app:{failover}:probe"
    victim, replica_node = rc.primary_and_replica_of(victim_key, c.app_user, c.app_password)
    replica = replica_node.client(c.app_user, c.app_password)

    victim.kill()
    start = time.monotonic()

    def replica_takes_writes() -> bool:
        try:
            return bool(replica.set(victim_key, "after-failover"))
        except ResponseError as err:  # MOVED while it is still a replica
            if "MOVED" in str(err) or "CLUSTERDOWN" in str(err):
                return False
            raise

    servers.wait_until(replica_takes_writes, timeout=30, what="replica to be promoted", interval=0.05)
    failover_s = time.monotonic() - start
    print(f"redis failover: primary killed -> replica serving writes in {failover_s:.2f}s "
          f"(cluster-node-timeout {REDIS_CLUSTER_NODE_TIMEOUT_MS} ms)")
    assert failover_s < 30
    assert replica_node.client().execute_command("ROLE")[0] == "master"

    servers.wait_failed_over(rc, victim.port)
    after = rc.cluster_client(c.app_user, c.app_password)
    values = after.mget_nonatomic(keys)
    missing = [k for k, v in zip(keys, values, strict=True) if v != k.upper()]
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:3]}"
    assert after.get(victim_key) == "after-failover"

"""``REDIS_CLUSTER=1``: the settings, and what runs on the cluster besides the broker's own
tests (login limiter, health check, typing claims, push limit), against a real local cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from tests.ops.conftest import parley_config
from tests.support.cluster import RedisCluster
from tests.support.waiting import wait_until
from webapp import create_app
from webapp.config import Config, ConfigError
from webapp.events.redis_cluster import connect_cluster
from webapp.events.redis_cluster_broker import ClusterBroker
from webapp.ops.health import RedisCheck
from webapp.push.dispatcher import RateLimit
from webapp.security import limiter_storage_options
from webapp.services import get_services


def _cluster_config(url: str, **more: str) -> Config:
    env = {"REDIS_URL": url, "REDIS_CLUSTER": "1", "SECRET_KEY": "k", **more}
    return Config.from_env(env, require_service_sid=False)


def test_a_cluster_needs_a_redis_url_naming_one_node() -> None:
    with pytest.raises(ConfigError, match="REDIS_CLUSTER=1 needs REDIS_URL"):
        Config.from_env({"REDIS_CLUSTER": "1"})
    with pytest.raises(ConfigError, match="redis:// or rediss://"):
        Config.from_env({"REDIS_CLUSTER": "1", "REDIS_URL": "unix:///tmp/redis.sock"})
    assert Config.from_env({"REDIS_URL": "redis://h:6379"}).REDIS_CLUSTER is False


def test_the_limiter_counts_on_the_cluster_through_its_own_storage() -> None:
    config = _cluster_config("rediss://user:pw@node-1.example:7000", REDIS_VERIFY_TLS="0")
    assert config.RATELIMIT_STORAGE_URI == "redis+cluster://user:pw@node-1.example:7000"
    options = limiter_storage_options(config, None)
    assert options["ssl"] is True and options["ssl_cert_reqs"] == "none"
    assert options["max_connections"] == 2
    plain = _cluster_config("redis://node-2.example")
    assert plain.RATELIMIT_STORAGE_URI == "redis+cluster://node-2.example:6379"
    assert "ssl" not in limiter_storage_options(plain, None)


def test_parley_starts_on_a_cluster_with_the_cluster_broker(
    redis_cluster: RedisCluster, tmp_path: Path
) -> None:
    app = create_app(parley_config(tmp_path, REDIS_URL=redis_cluster.url, REDIS_CLUSTER="1"))
    services = get_services(app)
    assert isinstance(services.broker, ClusterBroker)
    wait_until(services.broker.live, 10, "the shared channel's subscription")
    services.broker.close()


def test_login_limits_hold_on_the_cluster(redis_cluster: RedisCluster) -> None:
    config = _cluster_config(redis_cluster.url)
    storage = storage_from_string(
        config.RATELIMIT_STORAGE_URI, **limiter_storage_options(config, None)
    )
    assert storage.check()
    limiter = FixedWindowRateLimiter(storage)
    three = RateLimitItemPerMinute(3)
    assert [limiter.hit(three, "login", name) for name in ("ann",) * 4] == [
        True,
        True,
        True,
        False,
    ]
    assert limiter.hit(three, "login", "ben")  # another key, likely another slot


def test_the_health_check_asks_every_primary_and_the_cluster_state(
    redis_cluster: RedisCluster,
) -> None:
    check = RedisCheck(redis_cluster.url, cluster=True)()
    assert check.ok and check.detail == "cluster ok, 3 primaries"
    down = RedisCheck("redis://127.0.0.1:1/0", cluster=True)()  # built at the probe
    assert not down.ok and down.detail.startswith("unreachable")


def test_a_killed_primary_is_unhealthy_until_its_replica_takes_over(
    own_redis_cluster: RedisCluster,
) -> None:
    check = RedisCheck(own_redis_cluster.url, cluster=True)
    assert check().ok
    own_redis_cluster.kill_primary(slot=0)
    wait_until(lambda: check().ok, 30, "the check to see the promoted replica")


def test_typing_claims_and_push_limits_hold_across_workers_on_the_cluster(
    redis_cluster: RedisCluster, tmp_path: Path
) -> None:
    one, two = connect_cluster(redis_cluster.url), connect_cluster(redis_cluster.url)
    brokers = [ClusterBroker(client, redis_cluster.url) for client in (one, two)]
    try:
        key = "parley:typing:{ann}:CH1"
        assert brokers[0].claim(key, 5) is True
        assert brokers[1].claim(key, 5) is False  # another worker: the same claim
        brokers[0].release(key)
        assert brokers[1].claim(key, 5) is True
        brokers[1].release(key)
        first, second = RateLimit(one, interval=5), RateLimit(two, interval=5)
        assert first.take("ann") is True
        assert second.take("ann") is False
        assert second.take("ben") is True
    finally:
        for broker in brokers:
            broker.close()
        one.delete("parley:push:rate:{ann}")
        one.delete("parley:push:rate:{ben}")
        one.close()
        two.close()

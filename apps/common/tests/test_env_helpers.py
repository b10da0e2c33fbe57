import pytest

from paymenthub.settings.env import (
    EnvironmentConfigError,
    parse_database_url,
    redis_url_to_broker_url,
    with_redis_db,
)


class TestRedisUrls:
    def test_tcp_urls_pass_through_to_the_broker(self):
        assert redis_url_to_broker_url(url="redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"

    def test_unix_sockets_become_kombu_socket_urls_keeping_the_database(self):
        url = "unix:///srv/var/redis/redis.sock?db=3"
        assert (
            redis_url_to_broker_url(url=url)
            == "redis+socket:///srv/var/redis/redis.sock?virtual_host=3"
        )

    def test_tests_can_move_to_another_logical_database(self):
        assert with_redis_db(url="redis://127.0.0.1:6379/0", db=15) == "redis://127.0.0.1:6379/15"
        assert with_redis_db(url="unix:///s/redis.sock?db=0", db=14) == "unix:///s/redis.sock?db=14"


class TestDatabaseUrls:
    def test_unix_socket_hosts_are_understood(self):
        config = parse_database_url(
            name="DATABASE_URL", value="postgresql://postgres@%2Fsrv%2Fvar%2Fpgdata/paymenthub"
        )
        assert (config["HOST"], config["NAME"]) == ("/srv/var/pgdata", "paymenthub")

    def test_parameters_are_bound_on_the_server_and_repeated_statements_prepared(self):
        config = parse_database_url(
            name="DATABASE_URL", value="postgresql://postgres@localhost/paymenthub"
        )
        assert config["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 5}

    def test_prepared_statements_can_be_turned_off_for_a_pooler_that_cannot_keep_them(self):
        config = parse_database_url(
            name="DATABASE_URL",
            value="postgresql://postgres@localhost/paymenthub",
            prepared_statements=False,
        )
        assert "server_side_binding" not in config.get("OPTIONS", {})
        assert "prepare_threshold" not in config.get("OPTIONS", {})

    def test_a_url_without_a_database_is_refused(self):
        with pytest.raises(EnvironmentConfigError, match="DATABASE_URL: names no database"):
            parse_database_url(name="DATABASE_URL", value="postgresql://postgres@localhost")

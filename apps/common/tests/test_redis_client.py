"""The Redis client parses replies in C (hiredis), as requirements.txt promises."""

from django_redis import get_redis_connection
from redis._parsers import _HiredisParser


def test_the_cache_connection_parses_replies_with_hiredis():
    client = get_redis_connection("default")
    connection = client.connection_pool.get_connection()
    try:
        assert isinstance(connection._parser, _HiredisParser)
        assert client.ping() is True
    finally:
        client.connection_pool.release(connection)

"""The Celery worker survives losing its Redis broker while it holds unacknowledged messages.

Found by the chaos run ``redis_outage``: closing the broken connection gave the channel's
unacknowledged messages back through a connection pool built from a transport whose client was
already released, kombu raised ``AttributeError``, and Celery stopped the worker as an
unrecoverable error. ``paymenthub.celery`` makes that a connection error, which the close
path ignores, so the consumer reconnects."""

from __future__ import annotations

import os
import uuid

import pytest
from kombu import Connection, Queue
from kombu.common import ignore_errors
from kombu.transport import redis as kombu_redis

import paymenthub.celery  # installs the guard, as the worker does


@pytest.fixture
def broker_url() -> str:
    return os.environ["REDIS_URL"]


def receive_without_ack(connection: Connection) -> Queue:
    queue = Queue(f"reconnect-test-{uuid.uuid4().hex}", channel=connection.default_channel)
    queue.declare()
    with connection.Producer() as producer:
        producer.publish({"n": 1}, routing_key=queue.name, serializer="json")
    message = queue.get(no_ack=False)
    assert message is not None
    return queue


def test_closing_a_connection_whose_transport_was_released_does_not_raise(broker_url):
    connection = Connection(broker_url)
    queue = receive_without_ack(connection)
    channel = connection.default_channel
    assert channel.qos._delivered  # a message received and not acknowledged
    channel.connection.client = None  # the state the worker met while Redis was down

    ignore_errors(connection, connection.close)  # what Celery's consumer does: no exception

    with Connection(broker_url) as again:  # and the consumer reconnects
        again.default_channel.queue_delete(queue.name)


def test_the_guard_is_installed_once(broker_url):
    guarded = kombu_redis.Channel._connparams
    paymenthub.celery.guard_redis_channel_pool()
    assert kombu_redis.Channel._connparams is guarded
    assert getattr(guarded, "paymenthub_guarded", False)

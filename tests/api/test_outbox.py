"""The transactional outbox and its relay (docs/pipeline.md#the-outbox): a request commits its
task with its rows and never talks to the broker; the relay publishes each task — once, even
with relays side by side — and a task committed while Redis is down is published when it is back."""
from __future__ import annotations

import base64
import json
import threading
import time

import pytest
import redis

from app.queue import CONTROL_QUEUE, TaskQueue, make_celery
from app.relay import OutboxRelay, drain
from tests.api.conftest import call_body

URL = "/api/public/v1/calls"


def published(settings, queue: str = CONTROL_QUEUE) -> list[tuple[str, int]]:
    """(task name, argument) of every message waiting in a broker queue, oldest first — read the
    way a worker reads it (kombu's envelope, the body base64-encoded JSON [args, kwargs, embed])."""
    client = redis.Redis.from_url(settings.broker_url)
    messages = []
    for raw in reversed(client.lrange(queue, 0, -1)):
        envelope = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        messages.append((envelope["headers"]["task"], args[0]))
    return messages


@pytest.fixture(autouse=True)
def empty_broker(settings):
    redis.Redis.from_url(settings.broker_url).flushdb()


def outbox_rows(db) -> list[tuple[str, int]]:
    db.rollback()
    return [(r["task"], r["object_id"]) for r in db.execute("SELECT task, object_id FROM task_outbox ORDER BY id")]


def submit(client, tenant, n: int, prefix: str = "outbox") -> list[int]:
    ids = []
    for i in range(n):
        response = client.post(URL, json=call_body(tenant, call_identifier=f"{prefix}-{i}"), headers=tenant.headers)
        assert response.status_code == 202
        ids.append(response.get_json()["id"])
    return ids


def test_an_accepted_call_commits_its_task_and_the_relay_publishes_it_once(app, client, db, settings, tenant):
    ids = submit(client, tenant, 3)
    assert outbox_rows(db) == [("calls.analyze", i) for i in ids]  # committed with the call
    assert published(settings) == []  # the request published nothing itself
    assert drain(app.extensions["callscope.relay"]) == 3
    assert published(settings) == [("calls.analyze", i) for i in ids]
    assert outbox_rows(db) == []
    assert drain(app.extensions["callscope.relay"]) == 0  # nothing twice
    assert len(published(settings)) == 3


def test_a_duplicate_or_refused_call_commits_no_task(client, db, tenant):
    submit(client, tenant, 1)
    assert client.post(URL, json=call_body(tenant, call_identifier="outbox-0"), headers=tenant.headers).status_code == 409
    foreign_agent = call_body(tenant, call_identifier="outbox-x", agent_id=tenant.agent_id + 1000)
    assert client.post(URL, json=foreign_agent, headers=tenant.headers).status_code == 404
    assert len(outbox_rows(db)) == 1


def test_a_call_committed_while_redis_is_down_is_published_when_it_is_back(app, client, db, settings, tenant):
    from dataclasses import replace

    ids = submit(client, tenant, 2)  # a request never touches the broker: accepted whatever Redis does
    down = replace(settings, broker_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    broken = OutboxRelay(settings.database_url, TaskQueue(make_celery(down)), 0.01)
    with pytest.raises(Exception):  # noqa: B017 (kombu raises its own or redis's connection errors)
        broken.relay_once()
    broken.stop()
    assert outbox_rows(db) == [("calls.analyze", i) for i in ids]  # kept: nothing was published
    assert drain(app.extensions["callscope.relay"]) == 2  # the broker is back
    assert published(settings) == [("calls.analyze", i) for i in ids]


def test_the_relay_thread_retries_until_the_broker_answers(app, client, db, settings, tenant):
    """The loop survives failed publishes (backing off) and publishes once they succeed."""
    ids = submit(client, tenant, 1)
    real = app.extensions["callscope"].queue
    attempts: list[int] = []

    class FlakyBroker:
        def publish(self, tasks):
            attempts.append(len(tasks))
            if len(attempts) < 3:
                raise ConnectionError("broker down")
            real.publish(tasks)
            relay.wake()  # the row went through: the next sleep ends the loop

    waits: list[float] = []

    def sleep(seconds: float) -> bool:
        waits.append(seconds)
        return len(attempts) >= 3

    relay = OutboxRelay(settings.database_url, FlakyBroker(), 0.05, sleep=sleep)  # type: ignore[arg-type]
    relay.run()
    relay.stop()
    assert attempts == [1, 1, 1] and waits == [0.2, 0.4, 0.01]  # the same row, retried with a doubling backoff
    assert published(settings) == [("calls.analyze", ids[0])]
    assert outbox_rows(db) == []


def test_an_accepted_call_wakes_the_relay_thread(app, client, settings, tenant):
    """The relay thread sleeps for its whole poll interval (an hour here) unless a request of
    its process commits a task: then it publishes it at once."""
    from dataclasses import replace

    relay = OutboxRelay(settings.database_url, app.extensions["callscope"].queue, 3600)
    app.extensions["callscope"] = replace(app.extensions["callscope"], tasks_committed=relay.wake)
    relay.start()
    try:
        [call_id] = submit(client, tenant, 1)
        wait_for(lambda: published(settings) != [])
    finally:
        relay.stop()
    assert published(settings) == [("calls.analyze", call_id)]


def test_two_relays_side_by_side_publish_each_task_once(app, client, db, settings, tenant):
    ids = submit(client, tenant, 60)
    queue = app.extensions["callscope"].queue
    relays = [OutboxRelay(settings.database_url, queue, 0.01, batch=4) for _ in range(2)]  # small batches: they interleave
    counts = [0, 0]
    start = threading.Barrier(2)

    def work(n: int) -> None:
        start.wait()
        counts[n] = drain(relays[n])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for relay in relays:
        relay.stop()
    assert sum(counts) == 60
    assert sorted(arg for _, arg in published(settings)) == sorted(ids)  # every task, none twice
    assert outbox_rows(db) == []


def test_one_relay_leads_and_another_takes_over_when_its_session_ends(app, client, settings, tenant):
    """Relays in every web process, one publishing: the leader. When the leader's process goes
    (its session ends), a follower leads within its follow interval and publishes what waits."""
    queue = app.extensions["callscope"].queue
    relays = [OutboxRelay(settings.database_url, queue, 0.02, follow_seconds=0.05).start() for _ in range(3)]
    try:
        wait_for(lambda: sum(relay.leading for relay in relays) == 1)
        leader = next(relay for relay in relays if relay.leading)
        first = submit(client, tenant, 1)
        wait_for(lambda: len(published(settings)) == 1)
        leader.stop()
        wait_for(lambda: sum(relay.leading for relay in relays) == 1)
        assert not leader.leading
        second = submit(client, tenant, 1, prefix="after")[0]
        wait_for(lambda: len(published(settings)) == 2)
    finally:
        for relay in relays:
            relay.stop()
    assert published(settings) == [("calls.analyze", first[0]), ("calls.analyze", second)]


def wait_for(check, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within 10 s"
        time.sleep(0.01)


def test_a_relayed_message_is_the_message_celery_itself_would_publish(app, settings):
    """app/queue.task_message builds what Celery's send_task stores (task protocol 2 in kombu's
    envelope) without its per-message cost: field by field the same, ids apart."""
    client = redis.Redis.from_url(settings.broker_url)
    app.extensions["callscope"].queue.publish([("calls.analyze", 7)])
    ours = json.loads(client.rpop(CONTROL_QUEUE))
    celery = make_celery(settings)
    celery.send_task("calls.analyze", args=[7], queue=CONTROL_QUEUE)
    theirs = json.loads(client.rpop(CONTROL_QUEUE))
    celery.close()
    for message in (ours, theirs):
        for key in ("id", "root_id", "origin"):
            message["headers"].pop(key)
        for key in ("correlation_id", "delivery_tag", "reply_to"):
            message["properties"].pop(key)
        message["body"] = json.loads(base64.b64decode(message["body"]))
    assert ours == theirs

"""Real consumers: the in-process worker of `leadhub serve` on the embedded SQLite queue, RedisHuey with a
consumer on the real Redis, and the per-account lease raced by threads and processes on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from connectors.sync import acquire_lease, release_lease
from tests.scale.harness import (
    create_accounts,
    dispose_engines,
    lease_overlaps,
    make_worker_app,
    stored_message_ids,
)
from webapp.queue import enqueue, get_huey
from webapp.worker import start_inprocess_consumer, wants_inprocess_worker

RESULT_TIMEOUT = 60


def _run_through_consumer(worker_app, engine, session, target, emulator, enqueue_twice: bool) -> None:
    worker_app.config["LEADHUB"].update(emulator.settings)
    ids = create_accounts(session, target, emulator.mailboxes)
    consumer = start_inprocess_consumer(worker_app, workers=4, periodic=False)
    try:
        with worker_app.app_context():
            handles = [enqueue("sync_account", account_id) for account_id in ids]
            if enqueue_twice:
                handles += [enqueue("sync_account", account_id) for account_id in ids]
            results = [handle.get(blocking=True, timeout=RESULT_TIMEOUT) for handle in handles]
    finally:
        consumer.stop(graceful=True)
    assert all("error" not in r or r["error"] == "" for r in results), results
    stored = stored_message_ids(engine, target.channel)
    assert len(stored) == len(set(stored)), "a message was stored twice"
    assert set(stored) == emulator.expected_ids
    assert lease_overlaps(engine) == []


def test_inprocess_consumer_runs_syncs_on_the_embedded_queue(database_url, engine, session, target, tmp_path) -> None:
    worker_app = make_worker_app(database_url, f"sqlite:///{tmp_path / 'queue.db'}", "embedded", str(tmp_path))
    assert wants_inprocess_worker(worker_app)
    with target.start_emulator(mailboxes=4, per_mailbox=15) as emulator:
        _run_through_consumer(worker_app, engine, session, target, emulator, enqueue_twice=True)
    dispose_engines(worker_app)


@pytest.mark.redis
def test_redis_queue_with_a_real_consumer(database_url, engine, session, target, tmp_path, redis_queue) -> None:
    redis_url, queue_name = redis_queue
    worker_app = make_worker_app(database_url, redis_url, queue_name, str(tmp_path))
    assert not wants_inprocess_worker(worker_app)  # Redis: `leadhub worker` processes do the work
    huey = get_huey(worker_app)
    try:
        with target.start_emulator(mailboxes=6, per_mailbox=15) as emulator:
            _run_through_consumer(worker_app, engine, session, target, emulator, enqueue_twice=True)
        assert huey.pending_count() == 0
    finally:
        huey.flush()
        dispose_engines(worker_app)


def test_lease_is_exclusive_when_threads_race(engine, session, target) -> None:
    (account_id,) = create_accounts(session, target, ["raced"])
    for round_number in range(15):
        barrier = threading.Barrier(6)
        winners: list[str] = []

        def contend(name: str, barrier: threading.Barrier = barrier, winners: list[str] = winners) -> None:
            barrier.wait()
            if acquire_lease(engine, account_id, name):
                winners.append(name)

        threads = [threading.Thread(target=contend, args=(f"t{round_number}-{n}",)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(winners) == 1, f"round {round_number}: {winners}"
        release_lease(engine, account_id, winners[0])


def _contend_in_process(url: str, account_id: int, number: int, rounds: int, barrier, results) -> None:  # noqa: ANN001
    from core.db import make_engine

    engine = make_engine(url)
    for round_number in range(rounds):
        owner = f"p{number}-r{round_number}"
        barrier.wait()
        won = acquire_lease(engine, account_id, owner)
        results.put((round_number, owner, won))
        barrier.wait()
        if won:
            release_lease(engine, account_id, owner)
        barrier.wait()
    engine.dispose()


def test_lease_is_exclusive_when_processes_race(database_url, session, target) -> None:
    (account_id,) = create_accounts(session, target, ["raced"])
    # fork: children start at once (spawn re-imports the world); each opens its own connections.
    context = multiprocessing.get_context("fork")
    processes_count, rounds = 4, 8
    barrier, results = context.Barrier(processes_count), context.Queue()
    processes = [
        context.Process(target=_contend_in_process, args=(database_url, account_id, n, rounds, barrier, results))
        for n in range(processes_count)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=RESULT_TIMEOUT) for _ in range(processes_count * rounds)]
    for process in processes:
        process.join(RESULT_TIMEOUT)
        assert process.exitcode == 0
    for round_number in range(rounds):
        winners = [owner for r, owner, won in outcomes if r == round_number and won]
        assert len(winners) == 1, f"round {round_number}: {winners}"

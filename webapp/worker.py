"""Huey consumers: `leadhub worker` (a process of its own, any number of them on Redis) and the in-process
worker threads `leadhub serve` starts for the embedded queue so that `make run` needs no second command."""

from __future__ import annotations

import atexit
import logging
import os

from flask import Flask
from huey.consumer import Consumer

from webapp.db import get_engine, get_writer_engine
from webapp.queue import get_huey, is_distributed

log = logging.getLogger(__name__)


# Longest pause between polls of an empty queue (huey's default is 10 s; a webhook task should not wait that long).
MAX_POLL_DELAY_SECONDS = 1.0


class InProcessConsumer(Consumer):
    """A consumer living beside the web server: worker threads only, and no signal handlers (Ctrl+C belongs to
    the web server; the threads stop with the process)."""

    def _set_signal_handlers(self) -> None:
        pass


def wants_inprocess_worker(app: Flask) -> bool:
    """auto: only for the embedded queue (a Redis queue has `leadhub worker` processes of its own)."""
    setting = str(app.config["LEADHUB"].get("INPROCESS_WORKER", "auto")).lower()
    if setting in ("1", "true", "yes", "on"):
        return True
    if setting in ("0", "false", "no", "off"):
        return False
    return not is_distributed(app.config["LEADHUB"].get("QUEUE_URL") or "")


def start_inprocess_consumer(app: Flask, workers: int | None = None, periodic: bool = True) -> InProcessConsumer:
    huey = get_huey(app)
    consumer = InProcessConsumer(
        huey,
        workers=workers or app.config["LEADHUB"]["WORKERS"],
        worker_type="thread",
        periodic=periodic,
        check_worker_health=False,
        max_delay=MAX_POLL_DELAY_SECONDS,
    )
    consumer.start()
    atexit.register(consumer.stop)
    log.info("in-process worker started (%s threads)", consumer.workers)
    return consumer


def make_worker_consumer(
    app: Flask, workers: int, worker_type: str, periodic: bool, health_interval: float = 10.0
) -> Consumer:
    """The consumer of `leadhub worker`. Process workers are forked: each child gets fresh DB connections."""
    engines = {get_engine(app), get_writer_engine(app)}
    os.register_at_fork(after_in_child=lambda: [engine.dispose(close=False) for engine in engines])
    return get_huey(app).create_consumer(
        workers=workers,
        worker_type=worker_type,
        periodic=periodic,
        check_worker_health=True,
        health_check_interval=health_interval,
        max_delay=MAX_POLL_DELAY_SECONDS,
    )

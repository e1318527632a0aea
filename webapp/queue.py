"""Background work on one task-queue library, Huey: embedded by default (SQLite file under instance/, worker
threads started by `leadhub serve`), distributed over Redis when LEADHUB_QUEUE_URL=redis://… (any number of
`leadhub worker` processes). The same task code runs in both.

Tasks are plain functions registered with `@task`; `init_app` binds them to the app's Huey instance and runs
each inside an app context. `enqueue("name", *args)` schedules one. LEADHUB_QUEUE_URL=immediate runs tasks
synchronously in the caller (tests).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

log = logging.getLogger(__name__)

_TASKS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}


def task(name: str | None = None, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function as a background task. Options go to huey's task() (retries, retry_delay …)."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        _TASKS[name or fn.__name__] = (fn, options)
        return fn

    return decorator


def is_distributed(queue_url: str) -> bool:
    return queue_url.startswith(("redis://", "rediss://", "unix://"))


def make_huey(queue_url: str, instance_path: str, name: str = "leadhub") -> Huey:
    if queue_url == "immediate":
        return MemoryHuey(name, immediate=True)
    if is_distributed(queue_url):
        return RedisHuey(name, url=queue_url)
    path = Path(queue_url[len("sqlite:///"):]) if queue_url.startswith("sqlite:///") else Path(instance_path) / "queue.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("leadhub", filename=str(path))


def init_app(app: Flask) -> None:
    settings = app.config["LEADHUB"]
    queue_url = settings.get("QUEUE_URL") or ""
    if not queue_url and app.config.get("TESTING"):
        queue_url = "immediate"
    huey = make_huey(queue_url, app.instance_path, settings.get("QUEUE_NAME") or "leadhub")
    bound: dict[str, Any] = {}
    _import_task_modules()
    for name, (fn, options) in _TASKS.items():
        options = dict(options)
        schedule = options.pop("periodic", None)
        if schedule is not None:
            # A periodic task runs in the consumer started with periodic=True (`leadhub worker --periodic`).
            bound[name] = huey.periodic_task(schedule, name=name, context=False, **options)(_in_app_context(app, fn))
        else:
            bound[name] = huey.task(name=name, context=False, **options)(_in_app_context(app, fn))
    app.extensions["leadhub.huey"] = huey
    app.extensions["leadhub.tasks"] = bound


def _in_app_context(app: Flask, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        with app.app_context():
            return fn(*args, **kwargs)

    run.__name__ = fn.__name__
    run.__qualname__ = fn.__qualname__
    return run


def _import_task_modules() -> None:
    """Modules that define tasks register them on import."""
    import importlib

    for module in TASK_MODULES:
        importlib.import_module(module)


# Modules whose @task functions make up leadhub's background work.
TASK_MODULES: list[str] = [
    "webapp.tasks", "webapp.forms", "webapp.mailer", "webapp.intercom", "webapp.mail_merge", "webapp.qualify.tasks",
]


def enqueue(name: str, *args: Any, **kwargs: Any) -> Any:
    """Schedule task `name`; returns huey's result handle (or the result, in immediate mode)."""
    tasks = current_app.extensions["leadhub.tasks"]
    if name not in tasks:
        raise KeyError(f"no task named {name!r}")
    return tasks[name](*args, **kwargs)


def enqueue_in(delay_seconds: float, name: str, *args: Any, **kwargs: Any) -> Any:
    """Schedule task `name` to run after `delay_seconds` (used for retries with backoff)."""
    tasks = current_app.extensions["leadhub.tasks"]
    if name not in tasks:
        raise KeyError(f"no task named {name!r}")
    return tasks[name].schedule(args=args, kwargs=kwargs, delay=delay_seconds)


def pending_count(app: Flask | None = None) -> int:
    """Tasks waiting in the queue (not counting scheduled retries): the queue depth for /metrics."""
    return int(get_huey(app).pending_count())


def get_huey(app: Flask | None = None) -> Huey:
    return (app or current_app).extensions["leadhub.huey"]

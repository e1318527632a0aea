"""gunicorn settings for leadhub: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be overridden with GUNICORN_CMD_ARGS or the environment variables read below.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("LEADHUB_BIND", "0.0.0.0:8000")
# (2 × cores) + 1 sync workers is gunicorn's rule of thumb for mostly-I/O request handling.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("LEADHUB_WEB_THREADS", "2"))
worker_class = "gthread"
timeout = int(os.environ.get("LEADHUB_WEB_TIMEOUT", "30"))  # a request that takes longer is killed and logged
graceful_timeout = 30
keepalive = 5
max_requests = 2000  # recycle workers now and then (leaks in any library stay bounded)
max_requests_jitter = 200
# Requests that come through a proxy keep the proxy's X-Request-ID; leadhub returns it on the response.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s ua="%(a)s"'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# prometheus_client multiprocess mode: each worker writes its samples to this directory, /metrics sums them.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="leadhub-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server) -> None:  # noqa: ANN001
    # Samples of a previous run must not be added to this one's.
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server, worker) -> None:  # noqa: ANN001
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

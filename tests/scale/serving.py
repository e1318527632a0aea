"""Start leadhub under gunicorn (the production command) on a free loopback port, for tests and bench/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(env: dict[str, str], workers: int = 2, threads: int = 2, log_path: Path | None = None
             ) -> Iterator[str]:
    """Yield the base URL of a running gunicorn (gunicorn.conf.py, wsgi:app); stop it afterwards."""
    port = free_port()
    full_env = {**os.environ, **env, "WEB_CONCURRENCY": str(workers), "LEADHUB_WEB_THREADS": str(threads),
                "LEADHUB_BIND": f"127.0.0.1:{port}"}
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}")
            try:
                if requests.get(f"{url}/healthz", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /healthz")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        if log_path:
            log.close()

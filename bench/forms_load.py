"""Benchmark: POST /f/<key> (validation, spam checks, one committed INSERT into the intake queue) against a bare
Flask endpoint returning "ok", both under gunicorn with the same settings in the same run, with a `leadhub
worker` filing the accepted submissions through core.ingest meanwhile; then a sustained load where the number
of stored submissions (filed or waiting) must equal the number the server acknowledged, and every one must be
filed as a form message once the worker catches up. The form side is measured twice: with the worker paused
(the web tier alone, as when workers run on other machines) and with it filing on the same cores.

Spam defences that would stop a load generator are configured off for the run (minimum submit time 0,
rate limits "off"): the benchmark measures the submission path, not the limiter. The honeypot, token
signature, origin and validation checks still run on every request.

    .venv/bin/python bench/forms_load.py                 # 10 s per side for the ratio, 60 s sustained
    .venv/bin/python bench/forms_load.py --seconds 10    # quick run
    .venv/bin/python bench/forms_load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FIRST = ["Anna", "Piotr", "Olga", "Ivan", "Marta", "Jan", "Katarzyna", "Dmitri", "Ewa", "Tomasz", "Irina", "Adam"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"

try:
    from flask import Flask

    bare_app = Flask("bare")

    @bare_app.post("/ok")
    def _ok() -> str:
        return "ok"
except ImportError:  # pragma: no cover - only the generator runs without flask
    bare_app = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(app_spec: str, port: int, env: dict[str, str], workers: int, threads: int, log: Path) -> subprocess.Popen:
    command = [str(BIN / "gunicorn"), "-w", str(workers), "-k", "gthread", "--threads", str(threads),
               "-b", f"127.0.0.1:{port}", "--chdir", str(ROOT), "--log-level", "warning", app_spec]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))


def wait_ready(url: str, timeout: float = 30) -> None:
    import requests

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


# --------------------------------------------------------------------------- load generator (own process)


def generate(url: str, seconds: float, concurrency: int, token: str, tag: str) -> dict[str, object]:
    """POST for `seconds` from `concurrency` threads (a bounded loop each); count what was acknowledged."""
    import requests

    counts = {"acked": 0, "errors": 0}
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(n: int) -> None:
        rng = random.Random(f"{tag}-{n}")
        session = requests.Session()
        i = 0
        acked = errors = 0
        seen: dict[str, int] = {}
        while time.perf_counter() < deadline:
            i += 1
            # Random distinct names: a shared name token on every record would make each one a fuzzy-duplicate
            # candidate of all the others and measure that, not the form path.
            body = {"name": f"{rng.choice(FIRST)} {''.join(rng.choices(LETTERS, k=8)).title()}", "email": f"load{n}.{i}.{tag}@bench.example",
                    "message": f"run {tag} worker {n} request {i}", "_ts": token}
            try:
                response = session.post(url, json=body, timeout=30)
            except requests.RequestException:
                errors += 1
                continue
            seen[str(response.status_code)] = seen.get(str(response.status_code), 0) + 1
            if response.status_code in (200, 201):
                acked += 1
            else:
                errors += 1
        with lock:
            counts["acked"] += acked
            counts["errors"] += errors
            for k, v in seen.items():
                statuses[k] = statuses.get(k, 0) + v

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {**counts, "statuses": statuses, "elapsed": elapsed, "per_second": counts["acked"] / elapsed}


def run_generator(url: str, seconds: float, concurrency: int, token: str, tag: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--generate", url, "--seconds", str(seconds), "--concurrency", str(concurrency),
         f"--token={token}", "--tag", tag],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


# --------------------------------------------------------------------------- orchestration


def setup_database(url: str) -> str:
    """Migrate and create one form; returns its key."""
    sys.path.insert(0, str(ROOT))
    from sqlmodel import Session

    from core.db import make_engine
    from core.models import Form
    from webapp.cli import upgrade_database
    from webapp.forms import new_form_key

    upgrade_database(url)
    engine = make_engine(url)
    with Session(engine) as session:
        form = Form(key=new_form_key(), name="Bench", fields=[
            {"name": "name", "label": "Name", "kind": "text", "required": True, "maps_to": "name"},
            {"name": "email", "label": "Email", "kind": "email", "required": True, "maps_to": "email"},
            {"name": "message", "label": "Message", "kind": "textarea", "required": False, "maps_to": "message"},
        ])
        session.add(form)
        session.commit()
        key = form.key
    engine.dispose()
    return key


def stored_submissions(url: str, tag: str) -> tuple[int, int]:
    """(filed as form messages, still waiting in the intake queue) for one phase's tag."""
    import sqlalchemy as sa
    from sqlmodel import Session, select

    from core.db import make_engine
    from core.models import Message, PendingInbound

    engine = make_engine(url)
    with Session(engine) as session:
        filed = session.exec(select(sa.func.count()).select_from(Message).where(
            Message.channel == "form", Message.text.like(f"run {tag} %"))).one()
        waiting = session.exec(select(sa.func.count()).select_from(PendingInbound).where(
            PendingInbound.record.like(f'%"text":"run {tag} %'))).one()
    engine.dispose()
    return int(filed), int(waiting)


def wait_filed(url: str, tags: list[str], timeout: float) -> float:
    """Seconds until nothing of `tags` waits any more (the worker filed it all)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if all(stored_submissions(url, tag)[1] == 0 for tag in tags):
            return time.perf_counter() - started
        time.sleep(0.5)
    raise SystemExit(f"submissions still waiting after {timeout:.0f} s: is the worker running?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="sustained-load duration (default 60)")
    parser.add_argument("--ratio-seconds", type=float, default=10, help="duration of each ratio measurement")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        print(json.dumps(generate(args.generate, args.seconds, args.concurrency, args.token, args.tag)))
        return

    import requests

    workdir = Path(tempfile.mkdtemp(prefix="leadhub-forms-bench-"))
    db_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    key = setup_database(db_url)
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "LEADHUB_DATABASE_URL": db_url, "LEADHUB_SECRET_KEY": "bench-secret", "LEADHUB_DEMO": "off",
           "LEADHUB_QUEUE_URL": f"sqlite:///{workdir / 'queue.db'}", "LEADHUB_LOG_LEVEL": "WARNING",
           "LEADHUB_FORMS_MIN_SUBMIT_SECONDS": "0", "LEADHUB_FORMS_RATE_LIMIT_PER_IP": "off",
           "LEADHUB_FORMS_RATE_LIMIT_PER_FORM": "off"}
    from core.crypto import SecretBox

    env.setdefault("LEADHUB_ENCRYPTION_KEY", SecretBox.generate_key())
    forms_port, bare_port = free_port(), free_port()
    servers = [
        gunicorn("webapp:create_app()", forms_port, env, args.workers, args.threads, workdir / "forms.log"),
        gunicorn("bench.forms_load:bare_app", bare_port, env, args.workers, args.threads, workdir / "bare.log"),
        # The worker that files accepted submissions as leads: part of the forms side, on the same machine.
        subprocess.Popen([str(BIN / "leadhub"), "worker", "--workers", "1", "--worker-type", "thread"], env=env,
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(workdir / "worker.log").open("w")),
    ]
    try:
        forms_url = f"http://127.0.0.1:{forms_port}/f/{key}"
        bare_url = f"http://127.0.0.1:{bare_port}/ok"
        wait_ready(f"http://127.0.0.1:{forms_port}/healthz")
        wait_ready(f"http://127.0.0.1:{bare_port}/ok")
        token = requests.get(f"{forms_url}/token", timeout=10).json()["token"]
        # warm both (imports, connection pools) before measuring
        run_generator(bare_url, 1, 2, token, "warm")
        run_generator(forms_url, 1, 2, token, "warm")

        bare = run_generator(bare_url, args.ratio_seconds, args.concurrency, token, "bare")
        # The web tier alone: the worker is paused (as if it ran on another machine), its backlog waits.
        worker = servers[2]
        worker.send_signal(signal.SIGSTOP)
        alone = run_generator(forms_url, args.ratio_seconds, args.concurrency, token, "alone")
        worker.send_signal(signal.SIGCONT)
        wait_filed(db_url, ["alone"], timeout=600)
        # And with the worker filing on the same two cores meanwhile.
        forms = run_generator(forms_url, args.ratio_seconds, args.concurrency, token, "ratio")
        ratio = forms["per_second"] / bare["per_second"] if bare["per_second"] else 0.0
        sustained = run_generator(forms_url, args.seconds, args.concurrency, token, "sustained")
        # Durable = filed or waiting, the moment the load stops; then how long the worker takes to file the rest.
        at_end = stored_submissions(db_url, "sustained")
        drain_seconds = wait_filed(db_url, ["ratio", "sustained"], timeout=max(600, 10 * args.seconds))
        stored = stored_submissions(db_url, "sustained")[0]
        stored_ratio_phase = stored_submissions(db_url, "ratio")[0]
        stored_alone_phase = stored_submissions(db_url, "alone")[0]
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        print(f"server logs: {workdir}", file=sys.stderr)

    report = {
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "database": db_url.split(":", 1)[0],
        "server": f"gunicorn gthread, {args.workers} workers x {args.threads} threads, 127.0.0.1",
        "load": f"{args.concurrency} client threads in a separate process",
        "bare_ok_per_s": round(bare["per_second"], 1),
        "web_tier_alone": {"forms_post_per_s": round(alone["per_second"], 1),
                           "ratio": round(alone["per_second"] / bare["per_second"], 2) if bare["per_second"] else 0.0,
                           "acked": alone["acked"], "filed": stored_alone_phase},
        "forms_post_per_s": round(forms["per_second"], 1),
        "ratio": round(ratio, 2),
        "ratio_phase": {"acked": forms["acked"], "stored": stored_ratio_phase, "errors": forms["errors"]},
        "sustained": {"seconds": args.seconds, "acked": sustained["acked"],
                      "stored_at_end": {"filed": at_end[0], "waiting": at_end[1]},
                      "filed_after_drain": stored, "drain_seconds_after_load": round(drain_seconds, 1),
                      "errors": sustained["errors"], "statuses": sustained["statuses"],
                      "per_second": round(sustained["per_second"], 1)},
        "stored_equals_acked": sum(at_end) == sustained["acked"] and stored == sustained["acked"]
        and stored_ratio_phase == forms["acked"] and stored_alone_phase == alone["acked"],
    }
    print(json.dumps(report, indent=2))
    if not report["stored_equals_acked"]:
        raise SystemExit("stored submissions differ from acknowledged ones")


if __name__ == "__main__":
    main()

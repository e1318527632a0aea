"""Crash and fault proofs, run on a `Target`: the crash proof on the synthetic connector, Gmail and Intercom
(each through its emulator and real client library), the fault proof on the synthetic connector (Gmail's and
Intercom's own fault tests live beside their connectors).

Crash: a worker process runs the `sync_account` task on a large mailbox; 20 times it is killed with SIGKILL at
a random point (after a random number of pages, plus a random delay, so between ingest and commit too); the
lease of the dead worker is expired (what its timeout does) and a new worker process syncs again. At the end the store must hold exactly the emulator's
messages: none lost, none twice.

Faults: 10% of the emulator's responses are 429 (Retry-After), 500 or slower than the client's timeout;
every sync still completes with the full data.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session

from core.models import ConnectorAccount
from tests.scale import synthetic
from tests.scale.harness import (
    Target,
    create_accounts,
    gmail_target,
    intercom_target,
    release_dead_lease,
    stored_message_ids,
    synthetic_target,
)
from tests.scale.serving import ROOT
from webapp.tasks import sync_account

KILLS = int(os.environ.get("LEADHUB_TEST_CRASH_KILLS", "20"))
WAIT_SECONDS = 40


def _children(pid: int) -> list[int]:
    """Forked worker processes of consumer `pid` (same command line; helpers such as a resource tracker differ)."""
    parent_cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            try:
                same_program = (entry / "cmdline").read_bytes() == parent_cmdline
            except OSError:
                continue
            if int(fields[1]) == pid and same_program:
                children.append(int(entry.name))
    return children


def _wait_for(condition, what: str, timeout: float = WAIT_SECONDS) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _account(engine, account_id: int) -> ConnectorAccount:  # noqa: ANN001
    with Session(engine) as session:
        return session.get(ConnectorAccount, account_id)


def run_crash_proof(target: Target, database_url: str, engine, session, tmp_path: Path, seed: int = 11,  # noqa: ANN001
                    per_mailbox: int = 800) -> dict:
    rng = random.Random(seed)
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    with target.start_emulator(mailboxes=1, per_mailbox=per_mailbox) as emulator:
        (account_id,) = create_accounts(session, target, emulator.mailboxes)
        settings = {f"LEADHUB_{key}": str(value) for key, value in emulator.settings.items()}
        env = {
            **os.environ,
            **settings,
            "LEADHUB_DATABASE_URL": database_url,
            "LEADHUB_QUEUE_URL": queue_url,
            "LEADHUB_SECRET_KEY": "crash-test",
            "LEADHUB_DEMO": "off",
            "LEADHUB_TEST_WORKER_IMPORTS": ",".join(target.worker_imports),
            "PYTHONPATH": str(ROOT),
        }
        def start_worker() -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, "-m", "tests.scale.sync_once", str(account_id)],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=(tmp_path / "worker.log").open("ab"),
            )

        kills_mid_sync = 0
        for _ in range(KILLS):
            pages_before = emulator.progress()
            worker = start_worker()
            pages = rng.randint(1, 4)
            _wait_for(lambda pb=pages_before, n=pages, w=worker: emulator.progress() >= pb + n or w.poll() is not None,
                      "sync progress")
            time.sleep(rng.uniform(0, 0.05))
            # poll() reaps a worker that already finished its sync: killing that pid again would fail.
            if worker.poll() is None:
                kills_mid_sync += 1
                worker.kill()
            worker.wait(WAIT_SECONDS)
            release_dead_lease(engine, account_id)
        worker = start_worker()
        output, _ = worker.communicate(timeout=WAIT_SECONDS * 3)
        result = json.loads(output.decode().strip().splitlines()[-1])
        stored = stored_message_ids(engine, target.channel)
        return {
            "kills_mid_sync": kills_mid_sync,
            "final": result,
            "stored": stored,
            "expected": emulator.expected_ids,
            "status": _account(engine, account_id).status,
        }


# The synthetic connector, and Gmail and Intercom each through its emulator and real client library (Gmail:
# google-api-python-client, batch requests, a checkpoint per 100-message page; Intercom: requests, contacts then
# conversations with their parts, a checkpoint per 10-item page), with the mailbox size that keeps every kill
# in the middle of a sync.
# (800 synthetic messages were too few once bulk ingest got faster: a worker sometimes finished the sync
# before its kill.)
CRASH_TARGETS = {"synthetic": (synthetic_target, 2400), "gmail": (gmail_target, 3000), "intercom": (intercom_target, 900)}


@pytest.mark.slow
@pytest.mark.parametrize("connector", list(CRASH_TARGETS))
def test_kill_minus_nine_twenty_times_loses_and_duplicates_nothing(connector, database_url, engine, session,  # noqa: ANN001
                                                                   tmp_path) -> None:
    make_target, size = CRASH_TARGETS[connector]
    outcome = run_crash_proof(make_target(), database_url, engine, session, tmp_path, per_mailbox=size)
    assert outcome["kills_mid_sync"] == KILLS, (  # every kill landed in the middle of a sync
        f"{KILLS - outcome['kills_mid_sync']} workers ended before their kill: the mailbox is too small")
    assert outcome["final"]["error"] == "" and outcome["status"] == "healthy"
    stored = outcome["stored"]
    assert len(stored) == len(set(stored)), "duplicated messages"
    assert set(stored) == outcome["expected"], f"lost {len(outcome['expected'] - set(stored))} messages"


def test_ten_percent_faults_every_sync_completes_with_full_data(app, engine, session, target) -> None:
    faults = synthetic.Faults(rate=0.10, seed=5)
    with target.start_emulator(mailboxes=6, per_mailbox=60, faults=faults) as emulator:
        app.config["LEADHUB"].update(emulator.settings)
        ids = create_accounts(session, target, emulator.mailboxes)
        with app.app_context():
            reports = [sync_account(account_id) for account_id in ids]
        injected = emulator_state_injected(emulator)
    assert [r["error"] for r in reports] == [""] * len(ids)
    stored = stored_message_ids(engine, target.channel)
    assert len(stored) == len(set(stored)) and set(stored) == emulator.expected_ids
    # The proof only counts if every kind of fault was actually served.
    assert set(injected) == {"429", "500", "timeout"}, injected


def emulator_state_injected(emulator) -> dict[str, int]:  # noqa: ANN001
    return dict(emulator.injected())

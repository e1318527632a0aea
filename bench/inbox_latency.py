"""Server time of the inbox list and search pages on a seeded store (see bench/seed_inbox.py).

Runs the app in-process (Flask test client: routing, queries, template rendering; no network) and reports
p50/p95 per page.

    .venv/bin/python bench/inbox_latency.py /tmp/inbox-bench.db --runs 40
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

PAGES = {
    "inbox, first page": "/inbox",
    "inbox, channel filter": "/inbox?channel=gmail",
    "inbox, stage+temperature": "/inbox?stage=sql&temperature=hot",
    "inbox, a stage nobody is in": "/inbox?stage=customer",
    "inbox, unread only": "/inbox?unread=1",
    "search, name": "/inbox?q=Zielińska",
    "search, Cyrillic name in Latin letters": "/inbox?q=smirnova",
    "search, email prefix": "/inbox?q=person4242",
    "search, rare body word": "/inbox?q=ticket4242",
    "search, common body words": "/inbox?q=renewal+migration+contract",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    from sqlmodel import Session, select

    from core.models import User
    from core.users import create_user
    from webapp import create_app, freeze_startup_heap

    app = create_app({"DATABASE_URL": f"sqlite:///{args.path}", "SECRET_KEY": "bench", "DEMO": "off",
                      "FLASK": {"TESTING": True}})
    with Session(app.extensions["leadhub.engine"]) as session:
        user = session.exec(select(User).where(User.email == "bench@leadhub.example")).first()
        if user is None:
            user = create_user(session, email="bench@leadhub.example", role="manager", password="bench-password")
            session.commit()
        user_id = user.id
    freeze_startup_heap()  # as `leadhub serve` and wsgi.py do
    client = app.test_client()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = str(user_id)
    first = client.get("/inbox").data.decode()
    next_link = re.search(r'href="([^"]+)" rel="next"', first)
    pages = dict(PAGES)
    if next_link:
        pages["inbox, next page (keyset)"] = next_link.group(1).replace("&amp;", "&")
    print(f"{'page':32} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8}")
    for label, url in pages.items():
        client.get(url)  # warm caches
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        rows = response.data.count(b"data-href=")
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"{label:32} {rows:>5} {statistics.median(times):>8.1f} {p95:>8.1f}")


if __name__ == "__main__":
    main()

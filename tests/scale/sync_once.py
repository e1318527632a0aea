"""A worker process that runs one `sync_account` task (the same task code the queue runs), for the crash proof:
imports LEADHUB_TEST_WORKER_IMPORTS, builds the app from the environment, syncs the account given."""

from __future__ import annotations

import importlib
import json
import os
import sys

if __name__ == "__main__":
    for module in filter(None, os.environ.get("LEADHUB_TEST_WORKER_IMPORTS", "").split(",")):
        importlib.import_module(module)
    from webapp import create_app
    from webapp.tasks import sync_account

    app = create_app()
    with app.app_context():
        print(json.dumps(sync_account(int(sys.argv[1]))), flush=True)

"""WSGI entry point for production servers: `gunicorn -c gunicorn.conf.py wsgi:app`."""

from __future__ import annotations

from webapp import create_app, freeze_startup_heap

app = create_app()
freeze_startup_heap()

"""Scale-out fixtures: the synthetic target, and the real Redis when LEADHUB_TEST_REDIS_URL names one."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.scale.harness import Target, synthetic_target

REDIS_URL = os.environ.get("LEADHUB_TEST_REDIS_URL", "")


@pytest.fixture
def target() -> Target:
    return synthetic_target()


@pytest.fixture
def redis_queue() -> tuple[str, str]:
    """(Redis URL, a queue name of this test alone). Skips, saying why, only when no Redis is configured."""
    if not REDIS_URL:
        pytest.skip("LEADHUB_TEST_REDIS_URL is unset: no Redis configured (.ci/run sets it when 6379 answers)")
    return REDIS_URL, f"leadhub-test-{uuid.uuid4().hex[:12]}"

"""The load test's short form: bench/load.py's constant-rate run against uvicorn in this process, for about 15 s.

The full form (5 minutes against `qa serve` with the real model) is `python -m bench.load`; see docs/reliability.md.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from api.app import create_app
from api.settings import ApiSettings
from bench.load import MIB, run_load, summary, windows
from bench.serving import SEED_QUESTIONS
from qa.service import QAService
from tests.web.servers import serve_in_thread

RATE, SECONDS = 20.0, 15.0
RSS_GROWTH_LIMIT_MIB = 64


@pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="locust is not installed (pip install -e '.[bench]')")
def test_constant_rate_has_no_errors_and_flat_memory(fake_service: QAService, tmp_path: Path) -> None:
    """20 requests a second for 15 s, evenly spaced: every answer is a 200, and this process's RSS grows by under 64 MiB."""
    app = create_app(fake_service, ApiSettings(rate_limit_per_minute=0))
    with serve_in_thread(app) as base_url:
        assert app.state.api.readiness.wait(60), app.state.api.readiness.error
        run = run_load(base_url, os.getpid(), RATE, SECONDS, list(SEED_QUESTIONS), tmp_path, sample_every=1.0)
    total = summary(run, windows(run, 5.0))
    log = (tmp_path / "locust.log").read_text(errors="replace")
    assert abs(total["requests"] - RATE * SECONDS) <= 0.1 * RATE * SECONDS, (total, log)
    gaps = [later.start - earlier.start for earlier, later in zip(run.samples, run.samples[1:], strict=False)]
    bunched = sum(gap < 0.2 / RATE for gap in gaps) / len(gaps)  # evenly spaced: none; one burst a second: 95 %
    assert bunched < 0.5, f"{bunched:.0%} of requests started together: bursts, not an even rate"
    assert total["errors"] == 0, [sample for sample in run.samples if not sample.ok][:5]
    assert (total["rss_max_mib"] - total["rss_start_mib"]) * MIB < RSS_GROWTH_LIMIT_MIB * MIB, total

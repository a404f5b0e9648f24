"""What one app instance holds: the service and everything built from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from api.answer_slots import AnswerSlots
from api.auth import KeyRing
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from api.readiness import Readiness
from api.settings import ApiSettings
from qa.service import QAService
from qa.sources.watcher import Watcher


@dataclass(frozen=True)
class ApiState:
    """Per-app state, kept on `app.state.api`; nothing lives at module level."""

    service: QAService
    settings: ApiSettings
    keys: KeyRing
    limiter: RateLimiter
    readiness: Readiness
    metrics: Metrics
    answer_slots: AnswerSlots
    watcher: Watcher | None = None


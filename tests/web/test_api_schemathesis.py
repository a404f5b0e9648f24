"""Schemathesis against the app's own OpenAPI schema, in-process: no 500, responses and statuses as documented."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.settings import ApiSettings
from qa.service import QAService

EXAMPLES_PER_OPERATION = 130
MIN_REQUESTS = 1_000
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@dataclass
class Fuzzed:
    """Requests sent per operation, and how many operations the schema has."""

    requests: Counter[str] = field(default_factory=Counter)
    operations: int = 0


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    """The module's tally; when every operation ran, at least MIN_REQUESTS were sent in all."""
    tally = Fuzzed()
    yield tally
    total = sum(tally.requests.values())
    print(f"\nschemathesis: {total} requests over {len(tally.requests)} operations: {dict(tally.requests)}")
    if len(tally.requests) == tally.operations:
        assert total >= MIN_REQUESTS, tally.requests


@pytest.fixture
def api_schema(fake_service: QAService, fuzzed: Fuzzed) -> schemathesis.BaseSchema:
    """The OpenAPI schema of an app over the fake service, ready, called in-process (ASGI), valid and invalid data."""
    app = create_app(fake_service, ApiSettings(rate_limit_per_minute=0))
    app.state.api.readiness.start()
    assert app.state.api.readiness.wait(60), app.state.api.readiness.error
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.generation.update(modes=list(GenerationMode))
    fuzzed.operations = sum(1 for _ in schema.get_all_operations())
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: Case, fuzzed: Fuzzed) -> None:
    fuzzed.requests[case.operation.label] += 1
    case.call_and_validate(checks=CHECKS)

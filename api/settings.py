"""HTTP-only settings, read from QA_* environment variables (and a .env file) by `qa serve`."""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity, not the whole host's count)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


class ApiSettings(BaseSettings):
    """What the HTTP front end adds to qa.config.Settings; see the README's Authentication section."""

    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(), description="Bearer keys accepted on /v1, comma-separated; none (and no admin key) turns auth off."
    )
    admin_api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(), description="Keys that may also add and delete articles, comma-separated; when set, only they may."
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Browser origins allowed to call the API from other sites, comma-separated."
    )
    rate_limit_per_minute: int = Field(
        default=120, ge=0, description="Requests a minute on /v1 per key (per client IP when auth is off); 0 is no limit."
    )
    max_body_bytes: int = Field(default=1_000_000, ge=256, description="Largest request body accepted, in bytes.")
    concurrent_answers: int = Field(
        default_factory=usable_cores, ge=1, le=256,
        description="Questions (ask and search) worked on at once; the rest wait their turn in order. Default: one per "
        "CPU core, which keeps the cores busy without threads fighting over the GIL; raise it when a generative "
        "endpoint answers, since its calls mostly wait on the network.",
    )
    answer_queue_limit: int = Field(
        default=256, ge=0, le=100_000,
        description="Questions that may wait for a slot; past that the answer is 503 with Retry-After (256 is about "
        "4 s of work at the 67 questions a second measured on 2 cores).",
    )

    @field_validator("api_keys", "admin_api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        """Read `a,b,c` as a list, ignoring blanks."""
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @property
    def auth_enabled(self) -> bool:
        """Whether /v1 requires a bearer key."""
        return bool(self.api_keys or self.admin_api_keys)

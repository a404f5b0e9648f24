"""Chat-platform settings, read from QA_* environment variables (and a .env file) by the caller and passed down."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Visibility = Literal["ephemeral", "in_channel"]

_CHANNEL_ID = re.compile(r"[CDG][A-Z0-9]+")


class ChatSettings(BaseSettings):
    """Slack and Mattermost bot configuration; each integration is off until its secrets are set."""

    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore", hide_input_in_errors=True)

    slack_signing_secret: SecretStr | None = Field(default=None, description="Slack app's signing secret.")
    slack_bot_token: SecretStr | None = Field(default=None, description="Slack bot token (xoxb-...).")
    slack_api_url: str = Field(default="https://slack.com/api/", description="Slack Web API base URL.")
    slack_channels: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Channel IDs the bot answers in (comma-separated); empty means everywhere."
    )
    slack_reply_visibility: Visibility = Field(default="ephemeral", description="Who sees slash-command answers.")
    mattermost_token: SecretStr | None = Field(default=None, description="Mattermost slash command's token.")
    mattermost_reply_visibility: Visibility = Field(default="ephemeral", description="Who sees Mattermost answers.")
    slack_dedupe_seconds: float = Field(default=900.0, gt=0, description="How long a Slack event id is remembered.")

    @field_validator("slack_signing_secret", "slack_bot_token", "mattermost_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """An empty variable leaves the integration off."""
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        return None if isinstance(text, str) and not text.strip() else value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        """An http(s) base URL ending in a slash, as slack_sdk's WebClient expects."""
        if not value.startswith(("http://", "https://")):
            raise ValueError("QA_SLACK_API_URL must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else f"{value}/"

    @field_validator("slack_channels", mode="before")
    @classmethod
    def _channel_ids(cls, value: Any) -> Any:
        """Comma- or space-separated channel IDs; names are refused because events carry IDs only."""
        items = re.split(r"[\s,]+", value) if isinstance(value, str) else value
        channels = tuple(item.strip() for item in items if item.strip())
        wrong = [channel for channel in channels if not _CHANNEL_ID.fullmatch(channel)]
        if wrong:
            raise ValueError(
                f"QA_SLACK_CHANNELS takes channel IDs such as C0123ABCD, not {', '.join(wrong)}: "
                "copy the ID from the channel's details in Slack"
            )
        return channels

    @model_validator(mode="after")
    def _slack_pair(self) -> ChatSettings:
        """Slack needs both its signing secret and its bot token."""
        if (self.slack_signing_secret is None) != (self.slack_bot_token is None):
            missing = "QA_SLACK_BOT_TOKEN" if self.slack_bot_token is None else "QA_SLACK_SIGNING_SECRET"
            raise ValueError(f"Slack is half configured: set {missing} too, or unset both to turn Slack off")
        return self

    @property
    def slack_enabled(self) -> bool:
        """Whether the Slack endpoints are served."""
        return self.slack_signing_secret is not None and self.slack_bot_token is not None

    @property
    def mattermost_enabled(self) -> bool:
        """Whether the Mattermost endpoint is served."""
        return self.mattermost_token is not None

    def channel_allowed(self, channel: str) -> bool:
        """Whether the bot answers in this Slack channel."""
        return not self.slack_channels or channel in self.slack_channels

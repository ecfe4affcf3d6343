"""Settings: defaults < ``kehu.toml`` in the working directory (or the file ``KEHU_CONFIG``
names) < ``KEHU_*`` environment."""

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Visibility = Literal["own", "team", "all"]

DEFAULT_VISIBILITY: dict[str, Visibility] = {
    "admin": "all",
    "finance": "all",
    "manager": "team",
    "viewer": "team",
    "support": "team",
    "sales": "own",
}


class Settings(BaseSettings):
    """Kehu configuration. Every field can be set in ``kehu.toml`` or as ``KEHU_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="KEHU_",
        env_nested_delimiter="__",
        toml_file="kehu.toml",
        extra="ignore",
    )

    database_url: str = Field(
        "sqlite:///kehu.db",
        description="sqlite:///path/to/file.db or postgresql://user@host:port/db",
    )
    plugins: Annotated[list[str] | None, NoDecode] = Field(
        None, description="Enabled plugins (comma-separated in KEHU_PLUGINS); default: all"
    )
    debug: bool = False
    trace_hooks: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    sqlite_busy_timeout: float = Field(30.0, description="Seconds a writer waits for the lock")
    postgres_pool_max: int = 10
    graphql_max_depth: int = 12
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 5000
    graphql_max_cost: int = Field(
        20000,
        ge=1,
        description="Estimated objects one request may resolve (list sizes multiplied down "
        "the query; a list without first/limit counts 10)",
    )
    graphql_introspection: Literal["authenticated", "all", "off"] = Field(
        "authenticated", description="Who may introspect the schema (__schema, __type)"
    )
    graphql_suggestions: Literal["authenticated", "all", "off"] = Field(
        "authenticated", description="Who gets 'Did you mean ...?' in validation errors"
    )
    page_size_max: int = 100
    rate_limit_per_minute: int = Field(
        3000,
        ge=0,
        description="Requests per minute per API key (per address without one), counted in "
        "the database so all workers share it; 0 = off",
    )
    default_currency: str = "CNY"
    secret_key: str = Field(
        "",
        description="Encrypts stored integration secrets (webhook secrets); kehu init "
        "writes one. Empty: a key generated once and kept in the database",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000", description="Base URL of links in e-mails (survey links)"
    )
    customer_tiers: list[str] = ["gold", "silver", "bronze"]
    visibility: dict[str, Visibility] = Field(default_factory=lambda: dict(DEFAULT_VISIBILITY))
    permissions: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Override the roles granted a scope, e.g. "
        '{"customer:export" = ["admin", "manager", "sales"]}',
    )
    stale_customer_days: int = 90
    strict_events: bool = Field(
        False, description="Emitting an undeclared event or data key is an error (tests)"
    )
    event_batch_size: int = Field(200, ge=1, le=10000)
    event_max_attempts: int = Field(10, ge=1, description="Attempts before a dead letter")
    event_retry_base_seconds: float = Field(2.0, gt=0)
    event_retry_max_seconds: float = Field(3600.0, gt=0)
    event_lease_seconds: float = Field(
        30.0, gt=0, description="A dead process's work is taken over after this"
    )
    event_poll_seconds: float = Field(1.0, gt=0, description="Background delivery checks")
    smtp_url: str = Field(
        "", description="smtp://user:password@host:587 or smtps://host; empty: mail waits"
    )
    mail_from: str = "Kehu <kehu@localhost>"
    mail_default_locale: Literal["zh", "en"] = "zh"
    mail_max_attempts: int = Field(10, ge=1)
    smtp_timeout: float = Field(30.0, gt=0)
    job_schedules: dict[str, str] = Field(
        default_factory=dict,
        description='Override job schedules: {"contracts.dunning" = "0 9 * * *", '
        '"core.prune-events" = "off", "tickets.sla_check" = "5m"}',
    )
    job_lease_seconds: float = Field(30.0, gt=0, description="Renewed while a job runs")
    event_retention_days: int = Field(30, ge=1, description="Outbox rows kept this long")
    import_chunk_size: int = 500
    plugin_settings: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-plugin sections: [plugin_settings.<name>]"
    )

    @field_validator("plugins", mode="before")
    @classmethod
    def _split_plugins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("visibility", mode="after")
    @classmethod
    def _complete_visibility(cls, value: dict[str, Visibility]) -> dict[str, Visibility]:
        return {**DEFAULT_VISIBILITY, **value}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("KEHU_CONFIG") or "kehu.toml"
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file))

    @field_validator("database_url", mode="after")
    @classmethod
    def _relative_to_config(cls, value: str) -> str:
        """A relative SQLite path is relative to the ``KEHU_CONFIG`` file, when one is named."""
        config = os.environ.get("KEHU_CONFIG")
        prefix = "sqlite:///"
        if config and value.startswith(prefix) and not value.startswith(prefix + "/"):
            path = Path(value.removeprefix(prefix))
            if str(path) != ":memory:":
                return prefix + str(Path(config).resolve().parent / path)
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///").removeprefix("sqlite://"))


DEFAULT_TOML = """\
# Kehu configuration. Environment variables KEHU_<FIELD> override these values.
database_url = "sqlite:///kehu.db"
# plugins = ["pipeline", "contracts"]   # default: every installed plugin
debug = false
default_currency = "CNY"

# E-mail notifications (survey links, SLA escalations, dunning, approvals). Without smtp_url
# messages wait in the mail outbox (kehu mail list) and go out once it is set.
# smtp_url = "smtp://user:password@smtp.example.com:587"
# mail_from = "Kehu <crm@example.com>"
# public_url = "https://crm.example.com"   # base of links in e-mails

# [plugin_settings.webhooks]
# allowed_hosts = ["127.0.0.1"]   # receivers on loopback/private addresses (development)

# [plugin_settings.loyalty]
# points_per_activity = 1
"""


def default_toml() -> str:
    """A new ``kehu.toml``: the defaults and a random ``secret_key``."""
    import secrets

    return (
        DEFAULT_TOML
        + "\n# Encrypts stored integration secrets (webhook secrets): keep it secret and stable.\n"
        + f'secret_key = "{secrets.token_urlsafe(32)}"\n'
    )

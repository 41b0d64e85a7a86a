"""Settings, read from ``VIDGATE_*`` environment variables and CLI flags.

Built by :func:`load_settings`, never at import time, so tests build as many apps as they like.
"""

from __future__ import annotations

import os
import re
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_ADMIN_TOKEN = 16
#: an origin as browsers send it: scheme://host[:port]
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://(\[[0-9a-f:.]+\]|[^/?#\s:\[\]]+)(:[0-9]{1,5})?", re.IGNORECASE)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDGATE_", extra="ignore")

    data_dir: Path = Path(".vidgate")
    database_url: str | None = Field(
        default=None, description="sqlite:///PATH or postgresql://...; default: SQLite in data_dir"
    )
    public_url: str | None = Field(
        default=None, description="base URL for result links; default: the URL the client called"
    )
    secret_key: str | None = Field(
        default=None, description="HMAC key for result URLs; default: generated once in data_dir"
    )

    # results and fetched inputs (see README "Storage")
    result_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    storage_url: str | None = Field(
        default=None,
        description="where results and fetched inputs are stored: file:///path or s3://bucket/prefix; "
        "default: the data dir",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="the S3 API's URL for stores other than AWS (MinIO, Ceph RGW, R2, Garage)"
    )
    s3_presign: bool = Field(
        default=False,
        description="S3: answer a download with a redirect to a presigned URL of the object (the bucket serves "
        "the bytes) instead of streaming it through vidgate",
    )

    # workers
    workers: bool = True
    worker_concurrency: int = Field(default=2, ge=1, le=64)
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    lease_seconds: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    retry_backoff_seconds: float = Field(
        default=5.0, ge=0, description="wait before retrying a task whose attempt failed retryably; doubles per attempt"
    )
    estimated_times: dict[str, int] = Field(default_factory=dict)
    task_timeouts: dict[str, float] = Field(default_factory=dict, description="seconds of processing, per model")
    default_task_timeout: float = Field(default=1800.0, gt=0)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    database_wait_seconds: float = Field(
        default=60.0, ge=0, description="serve and worker: how long to wait for an unreachable database at start"
    )
    janitor_interval_seconds: float = Field(default=60.0, gt=0)

    # OpenAI's video API (/v1/videos; see README "OpenAI's video API")
    openai_model_aliases: dict[str, str] = Field(
        default_factory=dict,
        description='JSON: other names a client may give as model on /v1/videos, e.g. {"sora-2": "kling-v3"}',
    )
    openai_poll_after_ms: int = Field(
        default=5000, ge=0, description="/v1/videos: how long the openai-poll-after-ms header tells pollers to wait"
    )

    # requests and limits
    max_body_bytes: int = Field(default=48 * 1024 * 1024, ge=1024)
    rate_limit_per_minute: int = Field(default=300, ge=1, description="per key; an account may override it")
    max_active_tasks: int = Field(default=50, ge=1, description="per key; an account may override it")
    redis_url: str | None = Field(
        default=None, description="share rate limits across API processes through this Redis (redis://...)"
    )
    redis_prefix: str = Field(default="vidgate:", description="prefix of every Redis key vidgate writes")
    auth_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="remember a key's check this long (revocations, suspensions and limits still apply from their "
        "answer on); 0 turns the cache off; an in-memory SQLite database never caches",
    )

    # connections (see README "Connections"; enforced by `vidgate serve`)
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="request line and headers must arrive within this (from the connection's start)"
    )
    body_timeout_seconds: float = Field(default=15.0, gt=0, description="the longest pause while a body arrives")
    body_min_bytes_per_second: int = Field(
        default=16 * 1024, ge=0, description="average body rate required after body_timeout_seconds; 0: none"
    )
    max_connections: int = Field(default=1000, ge=1, description="open connections per server process")
    keep_alive_seconds: int = Field(default=5, ge=1, description="an idle kept-alive connection is closed after this")
    stream_keepalive_seconds: float = Field(
        default=15.0, gt=0, description="a live progress stream sends a comment line after this long without an event"
    )
    stream_recheck_seconds: float = Field(
        default=1.0,
        gt=0,
        description="live progress streams: how often their tasks are re-read when no change was heard of (SQLite with "
        "separate worker processes, a notification missed)",
    )
    access_log: bool = Field(
        default=False,
        description="`vidgate serve`: log one line per request (uvicorn's access log); it costs on every request",
    )

    cors_origins: str = Field(
        default="",
        description="comma-separated origins (https://app.example.com) browsers may call the API from, or *",
    )

    # operation (see README "Deploying")
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: one readable line per event; json: one JSON object per line"
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="bearer token /metrics requires; unset: /metrics is open"
    )
    metrics_cache_seconds: float = Field(
        default=5.0, ge=0, description="how long /metrics serves the queue gauges it read from the database"
    )

    # operators
    admin_token: SecretStr | None = Field(
        default=None, description="bearer token of the admin API (/admin/v1); unset: the admin API is disabled"
    )

    # money
    initial_balance: Decimal = Decimal("100")
    prices_file: Path | None = Field(default=None, description="seeds the price table of an empty database")
    prices_refresh_seconds: float = Field(
        default=1.0, gt=0, description="how often a process checks for a newly stored price table"
    )

    # media intake
    fetch_allow_hosts: str = ""
    fetch_connect_timeout: float = 5.0
    fetch_read_timeout: float = 30.0

    # webhooks (see README "Webhooks")
    webhook_timeout_seconds: float = Field(
        default=15.0, gt=0, description="an attempt without an answer by then has failed"
    )
    webhook_concurrency: int = Field(default=32, ge=1, le=1000, description="deliveries in flight per process")
    webhook_target_concurrency: int = Field(
        default=4, ge=1, le=100, description="deliveries in flight per process to one endpoint or callback origin"
    )
    webhook_retry_scale: float = Field(
        default=1.0, gt=0, le=1, description="multiplies the retry schedule's waits (5 s ... 24 h); tests shrink it"
    )

    # upstream channels (see README "Upstream providers")
    channels_file: Path | None = Field(default=None, description="TOML file of [[channels]], synced on start")
    upstream_poll_interval: float = Field(default=1.0, gt=0, description="seconds between polls of one task")
    upstream_first_poll: float = Field(default=1.0, ge=0)
    upstream_poll_batch: int = Field(default=2000, ge=1)
    upstream_retry_submit: float = Field(
        default=5.0, gt=0, description="seconds a task waits in the queue when no channel can take it now"
    )
    max_result_bytes: int = Field(default=2 * 1024**3, ge=1024 * 1024, description="largest upstream result re-hosted")

    # providers
    provider: Literal["preview", "instant"] = "preview"
    preview_preset: str = "veryfast"
    instant_seconds: float = Field(default=0.0, ge=0, description="how long the instant test provider takes")

    @field_validator("admin_token")
    @classmethod
    def _admin_token(cls, token: SecretStr | None) -> SecretStr | None:
        """Empty means unset (the admin API stays disabled); a set token must be hard to guess."""
        value = token.get_secret_value().strip() if token is not None else ""
        if not value:
            return None
        if len(value) < MIN_ADMIN_TOKEN:
            raise ValueError(f"VIDGATE_ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN} characters long")
        return SecretStr(value)

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, value: str) -> str:
        """Each entry ``*`` or an origin: a scheme, a host and maybe a port, nothing more."""
        for origin in (o.strip() for o in value.split(",") if o.strip()):
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"VIDGATE_CORS_ORIGINS: {origin!r} is not an origin; give scheme://host[:port] "
                    "(no path, no trailing slash), or *"
                )
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, token: SecretStr | None) -> SecretStr | None:
        """Empty means unset: /metrics is open."""
        value = token.get_secret_value().strip() if token is not None else ""
        return SecretStr(value) if value else None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vidgate.db').as_posix()}"

    def signing_key(self) -> bytes:
        """The key result URLs are signed with: configured, or created once in the data dir."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.data_dir / f".secret.key.{os.getpid()}"
            tmp.write_text(secrets.token_hex(32))
            tmp.chmod(0o600)
            try:  # link() is atomic and refuses to replace: with racing starts one key wins
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip().encode()


def load_settings(**overrides: object) -> Settings:
    """Environment first, then explicit overrides (CLI flags, tests) on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]  # fields as keywords, checked by pydantic at run time

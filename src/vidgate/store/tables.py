"""The tables. Alembic migrations in ``migrations/`` create them; this module describes them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

#: a bind parameter of a statement built once and run many times (the hot path's)
P = sa.bindparam


class Id(sa.types.TypeDecorator[str]):
    """An id (VARCHAR(40)). Ids come from clients (paths, queries) to be looked up, and PostgreSQL
    text cannot hold NUL: asked for an id with one, it raises instead of finding nothing. Such an
    id is sent with its NULs as U+FFFD, which no id the server makes contains, so it matches no
    row, on either database."""

    impl = sa.String(40)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),  # micros
    sa.Column("created_at", sa.Double, nullable=False),
    # per-account limits; NULL means the server's default (settings)
    sa.Column("rate_limit_per_minute", sa.Integer),
    sa.Column("max_active_tasks", sa.Integer),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("account_id", Id, sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(20), nullable=False),  # shown to people; not secret
    sa.Column("secret_hash", sa.String(64), nullable=False),  # sha256 hex
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("last_used_at", sa.Double),
    sa.Column("revoked_at", sa.Double),
    sa.Column("active_tasks", sa.Integer, nullable=False, server_default="0"),  # pending + processing
    sa.UniqueConstraint("secret_hash", name="uq_api_keys_secret_hash"),
)

#: the queue and the sweeper read active tasks only: claim (pending, oldest first), leases and
#: timeouts (processing)
ACTIVE_SQL = "status IN ('pending', 'processing')"
POLLED_SQL = "status = 'processing' AND next_poll_at IS NOT NULL"

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("account_id", Id, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("key_id", Id, sa.ForeignKey("api_keys.id"), nullable=False),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("progress", sa.Integer, nullable=False, server_default="0"),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("hold", sa.BigInteger, nullable=False),
    sa.Column("cost", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("estimated_time", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("started_at", sa.Double),
    sa.Column("completed_at", sa.Double),
    sa.Column("result_path", sa.String(500)),
    sa.Column("expires_at", sa.BigInteger),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_message", sa.Text),  # in English
    sa.Column("error_detail", sa.Text),  # the message as JSON: template and parameters (vidgate.i18n)
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("worker_id", sa.String(100)),
    sa.Column("lease_expires_at", sa.Double),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("purged_at", sa.Double),  # results and inputs deleted by the janitor
    # upstream bookkeeping: private, never shown to clients
    sa.Column("channel_id", Id),
    sa.Column("upstream_id", sa.String(200)),
    sa.Column("next_poll_at", sa.Double),
    sa.Column("poll_errors", sa.Integer, nullable=False, server_default="0"),
    sa.Column("not_before", sa.Double),  # a deferred task is not claimed before this
    sa.Column("quote", sa.BigInteger),  # the price worked out when the task was sent upstream
    sa.Column("callback_url", sa.String(2000)),  # the request's, for webhooks (store.outbox)
    # size, seconds and remixed_from_video_id as sent to POST /v1/videos (migration 0011)
    sa.Column("openai_fields", sa.JSON),
    sa.Column("seed", sa.BigInteger),  # a local engine's: the result can be made again (migration 0012)
    sa.Index("ix_tasks_account_id_created_at", "account_id", "created_at"),
    # an account's tasks newest first, a page at a time (ids are ULIDs: time-ordered; migration 0009)
    sa.Index("ix_tasks_account_id_id", "account_id", "id"),
    # Partial indexes (see migration 0006): a row is in them only while it is active, so ended
    # tasks (nearly all of them, in time) cost nothing there, and status changes write fewer entries.
    sa.Index(
        "ix_tasks_active",
        "status",
        "created_at",
        "id",
        postgresql_where=sa.text(ACTIVE_SQL),
        sqlite_where=sa.text(ACTIVE_SQL),
    ),
    sa.Index(
        "ix_tasks_next_poll", "next_poll_at", postgresql_where=sa.text(POLLED_SQL), sqlite_where=sa.text(POLLED_SQL)
    ),
)

#: the request's fields a video object shows (``openai_api.video``): small ones only, read out of
#: the stored JSON by the database (``task_queries.briefs``, ``outbox``), never the request's
#: inline images
BRIEF_FIELDS = ("prompt", "duration", "mode", "resolution", "aspect_ratio", "size")


def brief_columns() -> list[sa.Label[Any]]:
    """:data:`BRIEF_FIELDS` of ``tasks.request``, each labelled ``request.<field>``."""
    return [tasks.c.request[name].label(f"request.{name}") for name in BRIEF_FIELDS]


def brief_of_row(row: Any) -> dict[str, Any]:
    """The fields of ``brief_columns`` a row has."""
    return {name: row[f"request.{name}"] for name in BRIEF_FIELDS if row[f"request.{name}"] is not None}


ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("account_id", Id, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("task_id", Id, sa.ForeignKey("tasks.id")),
    sa.Column("kind", sa.String(20), nullable=False),  # topup adjustment hold capture release
    sa.Column("amount", sa.BigInteger, nullable=False),  # signed micros; balance = sum(amount)
    sa.Column("balance_after", sa.BigInteger, nullable=False),
    sa.Column("note", sa.String(500)),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Index("ix_ledger_account_id_id", "account_id", "id"),
    sa.Index("ix_ledger_task_id", "task_id"),
)

price_tables = sa.Table(
    "price_tables",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),  # 1, 2, 3, ...: the highest is current
    sa.Column("body", sa.JSON, nullable=False),  # the validated table, amounts as decimal strings
    sa.Column("note", sa.String(500)),
    sa.Column("created_at", sa.Double, nullable=False),
)

channels = sa.Table(
    "channels",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("base_url", sa.String(500), nullable=False),
    sa.Column("credentials", sa.Text, nullable=False),  # sealed by vidgate.secretbox, never in clear
    sa.Column("models", sa.JSON, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("weight", sa.Integer, nullable=False, server_default="1"),
    sa.Column("max_concurrent", sa.Integer, nullable=False, server_default="10"),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("benched_until", sa.Double),
    sa.Column("bench_reason", sa.String(500)),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("in_flight", sa.Integer, nullable=False, server_default="0"),  # tasks processing upstream
    sa.Column("settings", sa.JSON),  # a local engine's settings block (provider "local"; migration 0012)
    sa.UniqueConstraint("name", name="uq_channels_name"),
)

#: a submit's Idempotency-Key: (account, key) is unique, so of concurrent submits with one key
#: exactly one inserts its row (and its task, in the same transaction); see ``store.idempotency``
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("account_id", Id, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("body_hash", sa.String(64), nullable=False),  # sha256 hex of the canonical body
    sa.Column("task_id", Id, nullable=False),  # inserted just before its task, in one transaction
    sa.Column("created_at", sa.Double, nullable=False),
    sa.PrimaryKeyConstraint("account_id", "key", name="pk_idempotency_keys"),
    sa.Index("ix_idempotency_keys_created_at", "created_at"),
)

#: account endpoints of webhooks (``store.webhooks``)
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("account_id", Id, sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("events", sa.JSON, nullable=False),  # the event types it is sent
    sa.Column("secret", sa.Text, nullable=False),  # sealed by vidgate.secretbox, never in clear
    sa.Column("description", sa.String(500)),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("disabled_reason", sa.String(500)),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

#: the secret that signs an account's callback_url deliveries, made on first need
webhook_secrets = sa.Table(
    "webhook_secrets",
    metadata,
    sa.Column("account_id", Id, sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("secret", sa.Text, nullable=False),  # sealed
    sa.Column("created_at", sa.Double, nullable=False),
)

#: the outbox (``store.outbox``): an event per status change that someone is to hear of, with
#: the task as it was then; its body is rendered once, at the first send, and sent as is since
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", Id, primary_key=True),  # the webhook-id header
    sa.Column("account_id", Id, nullable=False),
    sa.Column("task_id", Id, nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("task", sa.JSON, nullable=False),
    sa.Column("body", sa.Text),
    sa.Column("created_at", sa.Double, nullable=False),
)

DUE_SQL = "state = 'pending'"

#: one event to one target: an account endpoint, or (endpoint_id NULL) the task's callback_url
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("event_id", Id, sa.ForeignKey("webhook_events.id"), nullable=False),
    sa.Column("account_id", Id, nullable=False),
    sa.Column("endpoint_id", Id),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("target", sa.String(300), nullable=False),  # the sender's unit of concurrency
    sa.Column("state", sa.String(20), nullable=False),  # pending delivered failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.Double),
    sa.Column("leased_by", sa.String(100)),
    sa.Column("lease_until", sa.Double),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.String(500)),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=sa.text(DUE_SQL),
        sqlite_where=sa.text(DUE_SQL),
    ),
    sa.Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("delivery_id", Id, sa.ForeignKey("webhook_deliveries.id"), nullable=False, index=True),
    sa.Column("attempted_at", sa.Double, nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("error", sa.String(500)),
    sa.Column("duration_ms", sa.Integer, nullable=False),
)

"""vidgate's Prometheus metrics: every metric a process records, as named objects.

Modules record where the event happens, e.g. ``metrics.tasks_completed.labels(model).inc()``.
The metrics live in prometheus-client's default registry, one per process; ``vidgate serve
--workers N`` runs its processes in prometheus-client's multiprocess mode (see ``exposition``),
so a scrape of any of them sees the counters of all. What the database knows for every process
at once (queue depth, the oldest pending task, money held and captured, channels benched) is
not recorded here but read at scrape time (``metrics.queue``).

Labels are bounded: routes are templates (``/v1/tasks/{task_id}``), models and channels are the
operator's, reasons are vidgate's stable words.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# no ``*_created`` series: a timestamp per label set, which nothing here reads
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus-client leaves it unannotated

#: request latencies: from a cache hit (well under a millisecond) to a slow submit
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: a task's life: seconds (the preview renderer) to the better part of an hour (upstream models)
TASK_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
#: one call to an upstream API
UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# --- HTTP (api/observe.py) ---------------------------------------------------------------------
http_requests = Counter(
    "vidgate_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
http_request_duration = Histogram(
    "vidgate_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template",
    ["method", "route"],
    buckets=HTTP_BUCKETS,
)

# --- tasks (tasks/events.py) -------------------------------------------------------------------
tasks_submitted = Counter("vidgate_tasks_submitted", "Tasks accepted, by model", ["model"])
tasks_completed = Counter("vidgate_tasks_completed", "Tasks completed, by model", ["model"])
tasks_failed = Counter("vidgate_tasks_failed", "Tasks failed, by model and reason", ["model", "reason"])
tasks_cancelled = Counter("vidgate_tasks_cancelled", "Tasks cancelled by their clients, by model", ["model"])
tasks_requeued = Counter(
    "vidgate_tasks_requeued",
    "Tasks sent back to the queue: retry (an attempt failed retryably), lease_expired (its worker "
    "stopped), handed_back (its worker stopped in time to say so)",
    ["reason"],
)
task_duration = Histogram(
    "vidgate_task_duration_seconds",
    "From submission to completion, for completed tasks, by model and provider",
    ["model", "provider"],
    buckets=TASK_BUCKETS,
)

# --- workers (worker/runner.py) ----------------------------------------------------------------
worker_slots = Gauge("vidgate_worker_slots", "Worker threads (tasks worked on at once)", multiprocess_mode="livesum")
worker_slots_busy = Gauge("vidgate_worker_slots_busy", "Worker threads working on a task", multiprocess_mode="livesum")

# --- upstream channels (routing/engine) --------------------------------------------------------
upstream_submits = Counter(
    "vidgate_upstream_submits",
    "Submits to upstream channels, by channel and outcome (ok, error)",
    ["channel", "outcome"],
)
upstream_polls = Counter(
    "vidgate_upstream_polls",
    "Tasks polled at upstream channels, by channel and outcome (ok, error)",
    ["channel", "outcome"],
)
upstream_request_duration = Histogram(
    "vidgate_upstream_request_duration_seconds",
    "One call to an upstream channel (a submit, or a batch of polls), by channel and operation",
    ["channel", "operation"],
    buckets=UPSTREAM_BUCKETS,
)
upstream_errors = Counter(
    "vidgate_upstream_errors",
    "Failed upstream submits and polls, by channel, operation and reason",
    ["channel", "operation", "reason"],
)
upstream_benches = Counter(
    "vidgate_upstream_benches", "Times a channel was benched (taken out of rotation), by channel", ["channel"]
)

# --- media intake (media/fetch.py) -------------------------------------------------------------
fetch_failures = Counter(
    "vidgate_fetch_failures", "Inputs and results that could not be fetched, by reason", ["reason"]
)

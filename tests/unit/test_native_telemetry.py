"""FastAPI's own OpenTelemetry: on for the signals whose provider is set up before the app is
built, off for the others (so that a server without OpenTelemetry does not ask for providers on
every request), all on when FastAPI is told to set them up itself. In a fresh process each:
OpenTelemetry's providers are set once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PRINT = "import json; from vidgate.app import native_telemetry; print(json.dumps(native_telemetry()))"


def telemetry(code: str, **env: str) -> dict[str, bool]:
    environment = {k: v for k, v in os.environ.items() if k != "FASTAPI_OTEL_AUTO_CONFIGURE"} | env
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{PRINT}"], env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_off_when_no_provider_is_set_up() -> None:
    assert telemetry("") == {"tracing": False, "metrics": False, "logs": False}


def test_on_for_the_signals_whose_provider_is_set_up() -> None:
    tracing = "from opentelemetry import trace; trace.set_tracer_provider(trace.NoOpTracerProvider())"
    assert telemetry(tracing) == {"tracing": True, "metrics": False, "logs": False}
    meters = "from opentelemetry import metrics; metrics.set_meter_provider(metrics.NoOpMeterProvider())"
    assert telemetry(meters) == {"tracing": False, "metrics": True, "logs": False}


def test_fastapis_own_defaults_when_it_sets_them_up() -> None:
    assert telemetry("", FASTAPI_OTEL_AUTO_CONFIGURE="true") == {}

"""``vidgate webhooks``: the account's webhook endpoints from the shell, through ``vidgate.sdk``
(the connection options and exit codes of ``vidgate generate``; ``--json`` prints the API's
object as JSON)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from vidgate.cli.client import api_command
from vidgate.cli.output import EXIT_OK, Output
from vidgate.sdk import Client

EVENT_TYPES = ("task.processing", "task.completed", "task.failed", "task.cancelled", "video.completed", "video.failed")
_events = click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENT_TYPES),
    help="An event type to send (repeat for several; default every task.* type).",
)


def show(out: Output, value: Any, lines: list[str]) -> None:
    if out.as_json:
        Output._json(value)
    else:
        for line in lines:
            click.echo(line)


def endpoint_lines(endpoint: dict[str, Any]) -> list[str]:
    state = "enabled" if endpoint["enabled"] else f"disabled ({endpoint.get('disabled_reason') or 'no reason'})"
    lines = [f"{endpoint['id']}  {endpoint['url']}  {','.join(endpoint['events'])}  {state}"]
    if endpoint.get("secret"):
        lines.append(f"secret (shown this once): {endpoint['secret']}")
    return lines


def delivery_lines(delivery: dict[str, Any]) -> list[str]:
    lines = [f"{delivery['id']}  {delivery['type']}  {delivery['task_id']}  {delivery['state']}"]
    for attempt in delivery["attempts"]:
        when = datetime.fromtimestamp(attempt["time"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        outcome = f"HTTP {attempt['status']}" if attempt["status"] is not None else attempt["error"]
        lines.append(f"    {when}  {outcome}  {attempt['duration_ms']} ms")
    return lines


@click.group()
def webhooks() -> None:
    """Manage the account's webhook endpoints and see their deliveries."""


@webhooks.command("create")
@click.argument("url")
@_events
@click.option("--description", default=None)
@api_command
def create(client: Client, out: Output, *, url: str, events: tuple[str, ...], description: str | None) -> int:
    """Create an endpoint at URL; its secret is shown this once."""
    endpoint = client.webhooks.create(url, list(events) or None, description=description)
    show(out, endpoint, endpoint_lines(endpoint))
    return EXIT_OK


@webhooks.command("list")
@api_command
def list_(client: Client, out: Output) -> int:
    """List the account's endpoints."""
    endpoints = client.webhooks.list()
    show(out, endpoints, [line for e in endpoints for line in endpoint_lines(e)])
    return EXIT_OK


@webhooks.command("show")
@click.argument("webhook_id")
@api_command
def show_(client: Client, out: Output, *, webhook_id: str) -> int:
    """Show one endpoint."""
    endpoint = client.webhooks.get(webhook_id)
    show(out, endpoint, endpoint_lines(endpoint))
    return EXIT_OK


@webhooks.command("update")
@click.argument("webhook_id")
@click.option("--url", default=None)
@_events
@click.option("--description", default=None)
@click.option("--enable/--disable", "enabled", default=None)
@api_command
def update(
    client: Client,
    out: Output,
    *,
    webhook_id: str,
    url: str | None,
    events: tuple[str, ...],
    description: str | None,
    enabled: bool | None,
) -> int:
    """Change an endpoint's URL, events, description, or enable or disable it."""
    fields = {"url": url, "events": list(events) or None, "description": description, "enabled": enabled}
    endpoint = client.webhooks.update(webhook_id, **{k: v for k, v in fields.items() if v is not None})
    show(out, endpoint, endpoint_lines(endpoint))
    return EXIT_OK


@webhooks.command("delete")
@click.argument("webhook_id")
@api_command
def delete(client: Client, out: Output, *, webhook_id: str) -> int:
    """Delete an endpoint."""
    show(out, client.webhooks.delete(webhook_id), [f"deleted {webhook_id}"])
    return EXIT_OK


@webhooks.command("rotate-secret")
@click.argument("webhook_id")
@api_command
def rotate_secret(client: Client, out: Output, *, webhook_id: str) -> int:
    """Give an endpoint a new secret (shown this once); the old one stops signing at once."""
    endpoint = client.webhooks.rotate_secret(webhook_id)
    show(out, endpoint, endpoint_lines(endpoint))
    return EXIT_OK


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@api_command
def deliveries(client: Client, out: Output, *, webhook_id: str, limit: int) -> int:
    """The newest deliveries to an endpoint (``default``: to callback URLs), with every attempt."""
    found = client.webhooks.deliveries(webhook_id, limit=limit)
    show(out, found, [line for d in found for line in delivery_lines(d)])
    return EXIT_OK


@webhooks.command("redeliver")
@click.argument("webhook_id")
@click.argument("delivery_id")
@api_command
def redeliver(client: Client, out: Output, *, webhook_id: str, delivery_id: str) -> int:
    """Send a delivery again now (same webhook-id and body)."""
    show(out, client.webhooks.redeliver(webhook_id, delivery_id), [f"{delivery_id} will be sent again"])
    return EXIT_OK


@webhooks.command("default-secret")
@api_command
def default_secret(client: Client, out: Output) -> int:
    """The secret that signs the account's callback_url deliveries."""
    secret = client.webhooks.default_secret()
    show(out, {"secret": secret}, [secret])
    return EXIT_OK

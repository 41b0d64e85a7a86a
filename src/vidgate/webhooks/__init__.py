"""Webhooks (Standard Webhooks): account endpoints and their management (``service``), signing
secrets (``secrets``), and the sender every process runs (``sender``). The events themselves
are recorded by the store with the status changes that cause them (``store.outbox``)."""

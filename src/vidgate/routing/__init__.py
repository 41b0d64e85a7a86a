"""Upstream routing: channels, the choice among them, and the engine that submits and polls."""

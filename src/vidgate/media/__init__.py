"""Media intake (fetch + probe, SSRF-safe) and result storage."""

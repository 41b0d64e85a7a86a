"""The SDK's default settings, in a module of their own that imports nothing: the ``vidgate``
command shows them in its option help without loading the HTTP client."""

#: retries after a 429, a 503 or a broken connection (where repeating is safe)
DEFAULT_MAX_RETRIES = 2
#: seconds before the first poll of a task being waited for
DEFAULT_FIRST_POLL_AFTER = 5.0
#: seconds between polls
DEFAULT_POLL_INTERVAL = 5.0
#: the shortest pause between polls, whatever the server's hint
DEFAULT_MIN_INTERVAL = 1.0

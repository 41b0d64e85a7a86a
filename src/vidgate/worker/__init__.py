"""Workers: claim tasks from the task table and carry each one to its end."""

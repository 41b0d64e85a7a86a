"""Imported first by every benchmark. `bench/queue.py` is named like the standard library's
`queue` (the issue names it so), and Python puts a script's folder first on the path: take this
folder off the path before anything imports `queue`, and put the project root on it."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

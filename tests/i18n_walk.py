"""Every message template the code of vidgate writes, found by reading its source: the first
argument of each ``Message("...")`` and of each ``template("...")`` (a template used later),
where that argument is a string literal. A ``Message`` whose template is not a literal is
allowed only where it passes on a template found this way (listed in ``PASSED_ON``)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import vidgate

SRC = Path(vidgate.__file__).parent
#: files whose ``Message(<not a literal>, ...)`` re-uses a template that is a literal elsewhere
PASSED_ON = {"api/errors.py", "i18n/message.py"}


@dataclass(frozen=True)
class Found:
    template: str
    where: str  # path:line


def templates() -> tuple[list[Found], list[str]]:
    """The templates in the source, and the places that build a message from something else."""
    found: list[Found] = []
    unliteral: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name not in ("Message", "template"):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append(Found(first.value, f"src/vidgate/{rel}:{node.lineno}"))
            elif rel not in PASSED_ON:
                unliteral.append(f"src/vidgate/{rel}:{node.lineno}")
    return found, unliteral

"""What ``show_source`` shows a student starts with the mathematics.

For every function, method or class of ``genmodels`` that a chapter shows with
``show_source(...)``, the shown code (each function's body after its docstring) must

1. contain no ``raise`` statement: argument checks live in helpers named after what they
   check (``check_logits``, ``_check_joint``, ...), so an ``if ...: raise ...`` never
   stands between the docstring and the algorithm;
2. start with at most ``MAX_LEADING_CHECKS`` statements that are bare calls (a call whose
   result is discarded is made only for its check, e.g. ``check_logits(x, "x")``) before
   the first statement that computes something. Set-up that returns values is one line
   (``rho, state, noise = _gibbs_setup(...)``) and counts as computation.

The shown objects are read from the notebooks, with each notebook's own imports, so a
chapter that shows a new function is checked without editing this file.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

import pytest

from genmodels.show.source import source_of

ROOT = Path(__file__).resolve().parents[1]
MAX_LEADING_CHECKS = 2

# Shown trainers that the change to one training loop (issue 14) rewrites; each fails the
# rule today. strict: once one passes, it must leave this list.
def shown_objects() -> list[tuple[str, str, str]]:
    """``(notebook, expression, import lines)`` for every ``show_source(expression)`` of a chapter."""
    found = []
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        imports = "\n".join(line for line in code.splitlines()
                            if re.match(r"(from genmodels[\w.]* import |import genmodels)", line))
        for expr in sorted(set(re.findall(r"show_source\(([\w.]+)\)", code))):
            found.append((path.name, expr, imports))
    return found


SHOWN = shown_objects()


def _resolve(expr: str, imports: str):
    namespace: dict = {}
    exec(imports, namespace)  # noqa: S102 - the notebook's own import lines
    return eval(expr, namespace)  # noqa: S307 - a dotted name such as gan.discriminator_loss


def _body_after_docstring(fn: ast.FunctionDef) -> list[ast.stmt]:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body


def _leading_checks(body: list[ast.stmt]) -> int:
    n = 0
    for stmt in body:
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
            break
        n += 1
    return n


def problems_of(source: str) -> list[str]:
    """What in ``source`` (a function or a class) breaks the rule of this module."""
    tree = ast.parse(textwrap.dedent(source))
    found = []
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for fn in functions:
        body = _body_after_docstring(fn)
        raises = [s.lineno for stmt in body for s in ast.walk(stmt) if isinstance(s, ast.Raise)]
        if raises:
            found.append(f"{fn.name}: `raise` on shown line(s) {raises}")
        checks = _leading_checks(body)
        if checks > MAX_LEADING_CHECKS:
            found.append(f"{fn.name}: {checks} leading check calls before the computation "
                         f"(at most {MAX_LEADING_CHECKS}; fold them into one helper)")
    return found


@pytest.mark.parametrize(
    "notebook, expr, imports",
    SHOWN,
    ids=[f"{nb.split('_')[0]}-{expr}" for nb, expr, _ in SHOWN],
)
def test_shown_code_starts_with_the_mathematics(notebook, expr, imports):
    problems = problems_of(source_of(_resolve(expr, imports)))
    assert not problems, f"{notebook}: show_source({expr}) shows checks first:\n" + "\n".join(problems)


def test_the_chapters_show_library_code():
    assert len(SHOWN) >= 40, f"found only {len(SHOWN)} show_source calls; is the pattern stale?"


@pytest.mark.parametrize("source, expected", [
    ('def f(x):\n    """Doc."""\n    if x < 0:\n        raise ValueError("x")\n    return x\n', "raise"),
    ('def f(x):\n    check_a(x)\n    check_b(x)\n    check_c(x)\n    return x\n', "3 leading check calls"),
    ('class C:\n    def f(self, x):\n        def g():\n            raise TypeError\n        return g\n', "raise"),
])
def test_the_rule_catches_checks_before_the_mathematics(source, expected):
    assert any(expected in p for p in problems_of(source))


def test_the_rule_accepts_checks_in_helpers():
    source = ('def f(x, rho):\n    """Doc."""\n    check_logits(x, "x")\n'
              '    rho, state = _setup(rho)\n    return rho * state\n')
    assert problems_of(source) == []

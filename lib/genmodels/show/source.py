"""Show the library's own code in the book, so text and tested code never drift apart."""

from __future__ import annotations

import inspect
import textwrap
from typing import Any


def source_of(obj: Any) -> str:
    """The source code of a function, class or method of ``genmodels``, dedented."""
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (TypeError, OSError) as err:
        raise TypeError(
            f"cannot show the source of {obj!r}: pass a function, class or method "
            "defined in a Python file (not a builtin or an instance)."
        ) from err


def show_source(obj: Any):
    """Display the source of ``obj`` as a highlighted code block in a notebook.

    Returns an ``IPython.display.Markdown`` object; as the last expression of a cell
    it renders in Jupyter and on the built website alike.
    """
    from IPython.display import Markdown

    module = getattr(obj, "__module__", "")
    header = f"*Source: `{module}.{obj.__qualname__}`*\n\n" if module else ""
    return Markdown(f"{header}```python\n{source_of(obj)}```")

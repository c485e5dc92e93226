"""Shared by every test: the repository's build tools (``tools/``) import as modules."""

import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))


class FakeClock:
    """Stands for the ``time`` module of the code under test: the test moves the clock, so a
    time budget is tested exactly and never depends on how loaded the machine is."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def perf_counter(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

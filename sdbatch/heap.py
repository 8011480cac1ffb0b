"""The cycle collector during a run (issue 16).

A run builds one object graph per application (values, findings, sources) and keeps it to the
end.  Python's cycle collector re-scans every object that survived, each time enough new ones
were made: at 100,000 rows its passes took 3.6 s of the 22 s of reading and deciding, and
another 2 s in the writers, while those objects form no cycles.  Worse, the collector runs a
full pass so seldom over such a heap that a writer's cyclic garbage (an xlsxwriter workbook
with its row table) stayed alive while the next writer ran.

Within :func:`run_scope` the automatic collector is off.  At each boundary between stages
(:func:`settle`) the garbage of the stage is collected and what survived it is frozen
(``gc.freeze``), so the next boundary only walks what the next stage made.  Leaving the scope
unfreezes everything: a process that goes on (the tests, a caller of the API) gets its usual
collector back, and nothing of the run is kept alive by it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0  # scopes opened and not yet left (evaluate inside a run)


@contextmanager
def run_scope() -> Iterator[None]:
    """The automatic collector off (stages call :func:`settle`); restored when the outermost
    scope is left, whatever happened inside."""
    global _depth
    outer = _depth == 0
    enabled = gc.isenabled()
    if outer:
        gc.disable()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if outer:
            gc.unfreeze()
            if enabled:
                gc.enable()


def settle() -> None:
    """A stage is over: collect its garbage and freeze what lives on (no-op outside a scope)."""
    if _depth:
        gc.collect()
        gc.freeze()

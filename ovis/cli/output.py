"""Everything the ``ovis`` command prints goes through here.

The drawing itself lives in :mod:`ovis.terminal` (boot stage 2 uses it too,
and a library module never imports the CLI); this module is the CLI's name
for it.
"""

from __future__ import annotations

from ovis.terminal import (
    BOLD, GREEN, RED, RESET, STATE_COLOURS, VERBS, YELLOW, TerminalReporter, duration,
    fit_last_column, paint, status_table, table, terminal_width, use_colour,
)

__all__ = ["BOLD", "GREEN", "RED", "RESET", "STATE_COLOURS", "VERBS", "YELLOW", "TerminalReporter",
           "duration", "fit_last_column", "paint", "status_table", "table", "terminal_width",
           "use_colour"]

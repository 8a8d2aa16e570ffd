"""Logs: the catch-all logger, TAI64N stamps, moving boot logs (aa-mvlog)."""

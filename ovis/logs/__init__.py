"""Logs: moving finished boot logs into a log directory (:mod:`ovis.logs.mvlog`, aa-mvlog).

The catch-all logger itself is s6-log, set up by stage 1; TAI64N stamps are
:mod:`ovis.s6.tai`.
"""

"""analyze layer of ovis (see DESIGN.md): where did the start time go?

Library only (nothing here prints): ``timeline`` reads the start timings the
engine records in LIVE/state, ``blame`` sorts them, ``chain`` walks the
critical chain, ``svg`` draws the Gantt chart of ``ovis analyze plot`` and ``dot`` the dependency
graph.  ``ovis.cli.analyzecmd`` is the command on top.
"""

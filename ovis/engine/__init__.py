"""engine layer of ovis (see DESIGN.md): starting and stopping services.

- :mod:`ovis.engine.manager`: what every verb does (start, stop, restart,
  trees); the entry point for both ``ovis`` and the aa-* tools.
- :mod:`ovis.engine.graph`: the dependency graph of loaded services.
- :mod:`ovis.engine.transaction`: the pure scheduling of one start or stop.
- :mod:`ovis.engine.runner`: driving it in parallel from one thread.
- :mod:`ovis.engine.s6backend`: the side effects: s6 for longruns, fork for
  oneshots.
- :mod:`ovis.engine.state`: what ovis remembers of each service (LIVE/state);
  :mod:`ovis.engine.status`: what ``ovis status`` reports.

Progress goes to a Reporter the caller supplies; nothing here prints.
"""

"""anopa as a library on ovis's engine: where "how does aa-X decide?" is answered.

anopa's conventions, without any I/O of a command line (no Output, no
stdin, no exit): the ``ovis/cli/aa/`` tools parse options, call these, print
what they report and pick the exit status.

- :mod:`ovis.aa.codes`: anopa's error codes, events and their texts; AaError.
- :mod:`ovis.aa.repo`: the repository (``/run/services``): names, listdirs,
  servicedirs and whether they are up, the edges in ``needs/``, ``wants/``,
  ``after/``, ``before/``, anopa's events from ovis's state.
- :mod:`ovis.aa.notes`: what the library reports as it goes (the Notes
  protocol a tool's printer implements).
- :mod:`ovis.aa.plan`: what an aa-start/aa-stop transaction holds
  (StartLoader, StopLoader: anopa's loading, marking and loop breaking).
- :mod:`ovis.aa.run`: running that transaction on ovis's engine, with
  anopa's oneshot conventions (output echoed, caller's environment).
- :mod:`ovis.aa.enable`: aa-enable's copy of source servicedirs into the
  repository, compiled by ovis.
- :mod:`ovis.aa.status`: which state aa-status shows (s6's or ovis's).
"""

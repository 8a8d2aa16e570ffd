"""cli layer of ovis (see DESIGN.md): the ``ovis`` command, thin on purpose.

Parses arguments, calls the library, prints and picks the exit code: the
only layer that prints or exits.  :mod:`ovis.cli.main` is the command and
its one error handler; :mod:`ovis.cli.commands` the service verbs,
:mod:`ovis.cli.bootcmds` the boot verbs, :mod:`ovis.cli.analyzecmd`
``ovis analyze``, :mod:`ovis.cli.scandir` and :mod:`ovis.cli.logview` one
verb each.  ``ovis/cli/aa/`` holds the anopa-compatible ``aa-*`` programs.
Nothing outside this package imports it (tests/test_layering.py).
"""

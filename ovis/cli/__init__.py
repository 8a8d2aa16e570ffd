"""cli layer of ovis: the ``ovis`` command (and the other console scripts), thin on purpose.

Parses arguments, calls the library, prints and picks the exit code: the
only layer that prints or exits (how things look is :mod:`ovis.terminal`).
:mod:`ovis.cli.main` is the command and its one error handler;
:mod:`ovis.cli.context` builds the paths and the engine of an invocation;
:mod:`ovis.cli.commands` the service verbs, :mod:`ovis.cli.statusview`
``ovis status``, :mod:`ovis.cli.logcmd` ``ovis log``, :mod:`ovis.cli.opscmds`
apply/reset/deps/is-enabled, :mod:`ovis.cli.bootcmds` the boot verbs,
:mod:`ovis.cli.analyzecmd` ``ovis analyze``, :mod:`ovis.cli.scandir`
``ovis scandir``; :mod:`ovis.cli.docgen` builds man pages and completion.
``ovis/cli/aa/`` holds the anopa-compatible ``aa-*`` programs,
``ovis/cli/tools66/`` the 66-tools commands, :mod:`ovis.cli.contenv`
``with-contenv``.  Nothing outside this package imports it
(tests/test_layering.py).
"""

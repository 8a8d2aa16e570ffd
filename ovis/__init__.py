"""ovis: an init system and service manager on top of s6.

s6 does the supervising; ovis only makes decisions (what to start, in which
order, what failed and why) and then gets out of the way.  Nothing in this
package stays resident after a command returns.

Where things live (dependencies point down this list, never up):

- ``cli/``: the ``ovis`` command and, in ``cli/aa/``, the ``aa-*`` commands:
  options, output, exit codes; nothing else.
- ``aa/``: anopa's conventions as a library (repository, enable, aa-start's
  transaction rules, aa-status's choice of state).
- ``boot/``: stages 1 to 4 (boot as PID 1, stage 2's tree start, shutdown),
  init.conf, the skeleton, the demo.
- ``analyze/``: where the start time went (blame, critical chain, the SVG
  plot, dot).
- ``engine/``: starting and stopping services: graph, transactions, the
  parallel runner, state files, status.
- ``service/``: definitions: the model, the readers of each format, the
  repository of definitions, the compiler to s6 servicedirs.
- ``s6/``, ``linux/``, ``logs/``: s6's on-disk protocol, the system calls,
  moving logs.
- ``terminal.py``: how progress and status look on a terminal (the CLI and
  stage 2); ``paths.py``, ``errors.py``, ``atomic.py``: shared by all.
"""

__version__ = "0.1.0"

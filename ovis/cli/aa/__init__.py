"""anopa-compatible utilities (aa-echo, aa-mount, aa-kill, ...) as thin front ends.

Each module is one tool with ``main(argv) -> int`` and a console-script
``entrypoint``; the work is done by ovis.linux, ovis.s6 and ovis.logs.
Options, help texts, output format and exit codes follow anopa 0.5.0
(output.py has the shared conventions).  aa-enable/-start/-stop/-status/
-reset/-shutdown drive the same engine as ``ovis`` on anopa's repository
layout (repo.py, progress.py): no second implementation of anything.
"""

"""The anopa-compatible ``aa-*`` programs: options, output and exit codes only.

Each module is one tool with ``main(argv) -> int`` and a console-script
``entrypoint``; options, help texts, output format and exit codes follow
anopa 0.5.0.  The work is done by the library: :mod:`ovis.aa` for the
repository tools (aa-enable, -start, -stop, -status, -reset, -shutdown,
which run the same engine as ``ovis``), ovis.linux, ovis.s6 and ovis.logs
for the utilities.  Shared here: ``output.py`` (anopa's output conventions
and getopt; stdlib-only, inlined into the standalone aa-chroot),
``printer.py`` (how the repository tools print what ovis.aa reports) and
``common.py``.  A tool never imports another tool (tests/test_layering.py).
"""

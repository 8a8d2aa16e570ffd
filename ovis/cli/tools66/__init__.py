"""Front ends of the 66-tools commands (``execl-cmdline``, ``execl-toc``, ...).

One module per command, each with ``entrypoint()``; the work is in
:mod:`ovis.tools66`.  Each ends in ``exec`` of the rest of its command line.
"""

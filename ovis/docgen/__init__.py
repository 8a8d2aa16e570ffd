"""Build-time generators: man pages from docs/, shell completion from the parser.

Run by ``scripts/setup.sh`` (``python3 -m ovis.docgen install``); never on
the boot path.
"""

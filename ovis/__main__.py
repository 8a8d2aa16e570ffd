"""``python -m ovis`` is the ``ovis`` command."""

from ovis.cli.main import entrypoint

entrypoint()

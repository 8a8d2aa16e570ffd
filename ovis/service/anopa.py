"""Old import path of the anopa reader, kept so existing imports keep working.

The reader lives in :mod:`ovis.service.formats.anopa`.
"""

from ovis.service.formats.anopa import parse_anopa_dir  # noqa: F401

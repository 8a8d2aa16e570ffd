"""One reader per definition format, each turning files into the one model.

- :mod:`.sixtysix`: 66 frontend files, both dialects (``@key`` of 66 <= 0.7
  and the 0.8 one) on one shared lexer;
- :mod:`.anopa`: anopa service directories;
- ``s6rc``: s6-rc source definition directories.

Which reader a search path entry goes to is decided in one place,
:func:`ovis.service.sources.detect_format`; value checks the formats share
live in :mod:`ovis.service.values`.
"""

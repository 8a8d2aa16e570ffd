"""Old import path of the 66 reader, kept so existing imports keep working.

The reader lives in :mod:`ovis.service.formats.sixtysix`.
"""

from ovis.service.formats.sixtysix import (  # noqa: F401
    find_closing_paren,
    parse_frontend,
    read_definition,
    strip_comment,
    substitute_instance,
)
from ovis.service.values import (  # noqa: F401
    MAX_DEATH,
    MAX_MS,
    MAXSIZE_RANGE,
    check_notify,
    normalize_signal,
    parse_uint,
)

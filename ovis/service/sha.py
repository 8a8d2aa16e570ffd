"""SHA-256 without OpenSSL, for the compiler's digests.

``hashlib`` loads ``_hashlib`` and with it libcrypto: about 3.5 MB of the
resident memory of every client that compiles a definition (a cold
``ovis start``), for a hash of a few kilobytes per service.  CPython's own
implementation (``_sha256``, ``_sha2`` since 3.12) gives the same digests;
``hashlib`` is the fallback where neither is built.
"""

from __future__ import annotations

try:
    from _sha256 import sha256  # CPython <= 3.11
except ImportError:  # pragma: no cover - depends on the interpreter
    try:
        from _sha2 import sha256  # type: ignore[no-redef]  # CPython >= 3.12
    except ImportError:
        from hashlib import sha256  # type: ignore[no-redef,assignment]

__all__ = ["sha256"]

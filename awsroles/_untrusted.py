"""Reading JSON someone else wrote: cache entries, a ``credential_process``'s output, SSO
token files, environment variables, and the answers of instance metadata, the container
endpoint and the SSO portal.

Whatever such a document holds ends in a value or a ``ValueError``. ``json`` itself raises
``RecursionError`` for arrays or objects nested deeper than the interpreter's stack allows
(``[[[[...``); :func:`json_loads` turns that into a ValueError too, so a hostile or broken
document is a cache miss or a typed error naming its source, never a traceback. Sizes are
bounded by the readers (every file and body has a byte limit).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Union

__all__ = ["json_loads", "TooDeep"]


class TooDeep(ValueError):
    """The document nests arrays or objects too deeply to be read."""


def json_loads(raw: Union[str, bytes, bytearray]) -> Any:
    """``json.loads(raw)``, with nesting too deep to read as :class:`TooDeep` (a ValueError)
    instead of a RecursionError. Bytes must be UTF-8 without a byte order mark, as JSON
    exchanged between programs is (json alone would also take UTF-16 and -32, which botocore,
    reading the same files as UTF-8 text, does not). Every error is a ValueError."""
    import json

    if not isinstance(raw, str):
        raw = bytes(raw).decode("utf-8")  # UnicodeDecodeError is a ValueError
    try:
        return json.loads(raw)
    except RecursionError:
        raise TooDeep("the document nests arrays or objects too deeply to be read") from None

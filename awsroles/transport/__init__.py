"""HTTP: the request and response records (:mod:`.base`), the rules every request follows
(:mod:`.rules`), the retry loop (:mod:`.retry`) and two adapters: :mod:`.stdlib` sends direct
requests with ``http.client`` and hands a request whose route goes through a proxy or follows
redirects to :mod:`.via_requests`. Both are imported on first use, so processes served from
the cache import neither."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from .stdlib import StdlibTransport

__all__ = ["default_transport"]

_DEFAULT: Optional[StdlibTransport] = None


def default_transport() -> StdlibTransport:
    """The process-wide default transport (a :class:`~.stdlib.StdlibTransport`)."""
    global _DEFAULT
    if _DEFAULT is None:
        from .stdlib import StdlibTransport

        _DEFAULT = StdlibTransport()
    return _DEFAULT

"""One link of a resolved chain (the base, or a role hop): its credentials, and how to stop
using a set STS has rejected."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from ..credentials import Credentials
    from ..protocols import CredentialSource
    from .cached_fetch import CachedStsFetch

__all__ = ["Link"]


class Link:
    """One link of a chain: its credentials (a lazy base, or a hop's refreshable
    credentials, which drop a rejected set from the cache themselves), and the cache-first
    fetch behind them when there is one."""

    __slots__ = ("credentials", "fetch")

    def __init__(
        self, credentials: CredentialSource, fetch: Optional[CachedStsFetch] = None
    ) -> None:
        self.credentials = credentials
        self.fetch = fetch

    def ready(self) -> bool:
        """Whether its credentials can be had without fetching its own source: it holds a
        set that needs no refresh first, or the shared cache has a usable entry for it."""
        from ..refresh.policy import State

        state = getattr(self.credentials, "state", None)
        if state is not None and state() is not State.INVALID:
            return True
        return self.fetch is not None and self.fetch.cached() is not None

    def invalidate(self, rejected: Credentials) -> bool:
        """Stop using ``rejected``: its next use fetches again, and a cache entry holding it
        is deleted. False when these credentials cannot be fetched again (long-lived keys,
        from a file, the environment or a process that gives no expiry)."""
        built = getattr(self.credentials, "built", self.credentials)  # what a lazy base made
        invalidate = getattr(built, "invalidate", None)
        if invalidate is None:
            return False
        invalidate(rejected.access_key)  # False: already replaced, so fetching again is right
        return True

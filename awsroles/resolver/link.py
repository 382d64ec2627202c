"""One link of a resolved chain (the base, or a role hop): its credentials, and how to stop
using a set STS has rejected."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..credentials import Credentials
    from ..protocols import CredentialSource

__all__ = ["Link"]


class Link:
    """One link of a chain: its credentials (a lazy base, or a hop's refreshable
    credentials, which drop a rejected set from the cache themselves)."""

    __slots__ = ("credentials",)

    def __init__(self, credentials: CredentialSource) -> None:
        self.credentials = credentials

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

"""The provider protocol. A provider either supplies credentials or says why it does not.

``load(ctx)`` returns Credentials / RefreshableCredentials, or None to let the chain go on;
raising stops the chain (botocore's rule: a provider that applies but fails is an error, not
a fall-through). ``check(ctx)`` is the cheap, offline answer to "would you apply, and why?"
that ``explain`` prints; it never touches the network.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

try:
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore[assignment,misc]


class Provider(Protocol):
    #: botocore's METHOD name for the same provider ("env", "assume-role", ...).
    name: str

    def load(self, ctx: Any) -> Optional[Any]: ...

    def check(self, ctx: Any) -> Tuple[bool, str]: ...

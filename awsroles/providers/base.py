"""What a provider answers: it applies (``Applies``, with the way to load its
credentials) or it does not (``NotApplicable``, with the reason).

A provider's ``find(ctx)`` decides without calling out (it may read files and the
environment). The chain loads the first that applies; ``explain`` prints the same answers
without loading anything. Raising from ``find`` or ``load`` stops the chain (botocore's rule:
a provider that applies but fails is an error, not a fall-through).
"""

from __future__ import annotations

from .._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional, Protocol, Union

    from ..config.model import Plan
    from ..context import Context
    from ..protocols import CredentialSource

    Loaded = Union["CredentialSource", "NotApplicable"]

    class Provider(Protocol):
        """One source of the provider chain (``providers=``): ``name``, and ``find(ctx)``,
        which says without calling out whether it applies (``Applies``, whose ``load``
        fetches) or why not (``NotApplicable``)."""

        @property
        def name(self) -> str: ...

        def find(self, ctx: Context) -> Union[Applies, NotApplicable]: ...


__all__ = ["Applies", "NotApplicable"]


class NotApplicable(Record):
    """The provider has nothing for this resolution; ``reason`` says why (for ``explain``
    and for the error when no provider applies)."""

    provider: str
    reason: str


class Applies(Record):
    """The provider applies (``reason`` says why). ``load()`` fetches: it returns the
    credentials, or ``NotApplicable`` when the source turned out to have none (an
    instance metadata service that does not answer). ``plan`` is the profile's plan when the
    credentials come from the shared files."""

    provider: str
    reason: str
    load: Callable[[], Loaded]
    plan: Optional[Plan] = None

"""The shared-cache entries a plan owns, for ``explain`` and ``awsroles cache``: an SSO base's
(named as the AWS CLI v2 names it), a web identity base's and each role hop's (botocore's
AssumeRole key), and the MFA sessions its hops ride."""

from __future__ import annotations

from typing import NamedTuple

from ..cache.key import cache_key
from ..config.model import SsoSource, StaticKeys
from ..errors import InvalidConfigError
from ..sts.params import cache_args

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List

    from ..config.model import Plan

__all__ = ["Entry", "plan_entries", "SESSION_LABEL"]

#: After the profile's name, for the entry of the MFA session its role rides.
SESSION_LABEL = "(MFA session)"


class Entry(NamedTuple):
    """A cache entry a plan owns."""

    key: str
    #: The profile that owns it (``<profile> (MFA session)`` for a session's).
    profile: str
    #: What is called when it is missing: ``STS`` or ``the SSO portal``.
    filler: str


def plan_entries(plan: Plan, *, sessions: bool = True) -> List[Entry]:
    """Every entry ``plan`` owns, innermost first. ``sessions``: with the MFA sessions its
    hops ride (when the source keys are in the files), owned by ``<profile> (MFA session)``."""
    out: List[Entry] = []
    base = plan.base
    if isinstance(base, SsoSource):
        from .sso import sso_key

        try:
            out.append(Entry(sso_key(base), base.profile, "the SSO portal"))
        except InvalidConfigError:
            pass  # an incomplete SSO profile owns no entry; resolving it says what is missing
    out += [Entry(cache_key(cache_args(p)), p.profile, "STS") for p in plan.cached_parts()]
    if sessions and isinstance(base, StaticKeys):
        from .mfa_session import session_cache_args

        for hop in plan.hops:
            if hop.mfa_serial and hop.mfa_session_seconds:
                args = session_cache_args(base.access_key, hop.mfa_serial, hop.mfa_session_seconds)
                out.append(Entry(cache_key(args), f"{hop.profile} {SESSION_LABEL}", "STS"))
    return out

"""The arguments of one AssumeRole call, in the order botocore sends them, and the arguments
that name a role's cache entry.

Kept apart from :mod:`awsroles.sts.client` so that computing a cache key (every warm start)
does not import the STS client, its endpoint rules or its XML parser.
"""

from __future__ import annotations

from .._record import Record
from ..config.model import RoleHop

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple, Union

    from ..config.model import WebIdentitySource

__all__ = ["AssumeRoleParams", "cache_args"]

#: RoleHop fields that are not AssumeRole parameters of the same name: the profile, the two
#: :meth:`AssumeRoleParams.for_hop` maps itself, and where the MFA code comes from.
_HOP_ONLY = ("profile", "role_session_name", "mfa_serial", "mfa_process", "mfa_session_seconds")
#: RoleHop fields that are AssumeRole parameters of the same name.
SHARED_WITH_HOP = tuple(name for name in RoleHop._fields if name not in _HOP_ONLY)


class AssumeRoleParams(Record):
    """AssumeRole arguments. ``token_code`` (the MFA code) is never shown in repr."""

    _hidden = frozenset({"token_code"})

    role_arn: str
    role_session_name: str
    external_id: Optional[str] = None
    serial_number: Optional[str] = None
    token_code: Optional[str] = None
    duration_seconds: Optional[int] = None
    policy: Optional[str] = None
    policy_arns: Tuple[str, ...] = ()
    tags: Tuple[Tuple[str, str], ...] = ()
    transitive_tag_keys: Tuple[str, ...] = ()
    source_identity: Optional[str] = None
    #: True when ``role_session_name`` was generated, not configured: botocore then adds it
    #: after RoleArn, so the form fields come in a different order.
    session_name_generated: bool = False

    @classmethod
    def for_hop(
        cls, hop: RoleHop, session_name: str = "", token_code: Optional[str] = None
    ) -> AssumeRoleParams:
        """The parameters of ``hop``'s call. Without ``session_name`` (or with an empty one)
        the name counts as generated."""
        return cls(
            role_session_name=session_name or hop.role_session_name or "",
            serial_number=hop.mfa_serial,
            token_code=token_code,
            session_name_generated=not hop.role_session_name,
            **{name: getattr(hop, name) for name in SHARED_WITH_HOP},
        )

    def api_kwargs(self, *, include_token_code: bool = False) -> Dict[str, Any]:
        """botocore-style ``assume_role(**kwargs)``, in the order botocore's provider builds
        them (the cache key hashes this, minus TokenCode). The order is also the order of
        the form fields on the wire."""
        kw: Dict[str, Any] = {}
        if not self.session_name_generated:
            kw["RoleSessionName"] = self.role_session_name
        if self.external_id is not None:
            kw["ExternalId"] = self.external_id
        if self.serial_number is not None:
            kw["SerialNumber"] = self.serial_number
        if self.duration_seconds is not None:
            kw["DurationSeconds"] = int(self.duration_seconds)
        if self.policy is not None:
            kw["Policy"] = self.policy
        if self.policy_arns:
            kw["PolicyArns"] = [{"arn": arn} for arn in self.policy_arns]
        if self.tags:
            kw["Tags"] = [{"Key": k, "Value": v} for k, v in self.tags]
        if self.transitive_tag_keys:
            kw["TransitiveTagKeys"] = list(self.transitive_tag_keys)
        if self.source_identity is not None:
            kw["SourceIdentity"] = self.source_identity
        kw["RoleArn"] = self.role_arn
        if self.session_name_generated:
            kw["RoleSessionName"] = self.role_session_name
        if include_token_code and self.token_code is not None:
            kw["TokenCode"] = self.token_code
        return kw


def cache_args(part: Union[RoleHop, WebIdentitySource]) -> Dict[str, Any]:
    """The arguments botocore hashes into the cache entry's name (:func:`~awsroles.cache.key.
    cache_key`): the call's arguments without TokenCode, and without RoleSessionName when it
    is generated. For web identity: RoleArn, and RoleSessionName when configured."""
    if isinstance(part, RoleHop):
        args = AssumeRoleParams.for_hop(part).api_kwargs()
        if not part.role_session_name:
            args.pop("RoleSessionName", None)
        return args
    web: Dict[str, Any] = {"RoleArn": part.role_arn}
    if part.role_session_name:
        web["RoleSessionName"] = part.role_session_name
    return web

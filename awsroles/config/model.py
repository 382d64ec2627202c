"""What a plan is made of: base sources, role hops and the plan itself (plain data).

Built by :mod:`awsroles.config.plan`, executed by :mod:`awsroles.resolver.hops`, printed by
``explain``. Secret fields are left out of every repr.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from .._record import Record

__all__ = [
    "Plan",
    "RoleHop",
    "StaticKeys",
    "NamedSource",
    "WebIdentitySource",
    "ProcessSource",
    "SsoSource",
    "BaseSource",
]

# --- base sources -------------------------------------------------------------------------


class StaticKeys(Record):
    """Long-lived keys written in a profile."""

    _hidden = frozenset({"secret_key", "access_key", "token"})

    profile: str
    access_key: str
    secret_key: str
    token: Optional[str] = None
    account_id: Optional[str] = None
    file: Optional[str] = None
    #: botocore's provider name for where the keys were read: the credentials file
    #: (``shared-credentials-file``) or the config file (``config-file``).
    method: str = "shared-credentials-file"
    kind = "static-keys"

    def describe(self) -> str:
        where = f" in {self.file}" if self.file else ""
        tok = " + session token" if self.token else ""
        key = f"access key {self.access_key[:4]}****{tok}"
        return f"static keys of profile '{self.profile}'{where} ({key})"

    def credentials(self) -> Any:
        """These keys as :class:`~awsroles.credentials.Credentials`."""
        from ..credentials import Credentials

        return Credentials(
            access_key=self.access_key,
            secret_key=self.secret_key,
            token=self.token,
            account_id=self.account_id,
            method=self.method,
        )


class NamedSource(Record):
    """``credential_source``: Environment, Ec2InstanceMetadata or EcsContainer."""

    name: str
    profile: str
    kind = "credential-source"

    def describe(self) -> str:
        return f"credential_source = {self.name} (from profile '{self.profile}')"


class WebIdentitySource(Record):
    profile: str
    role_arn: str
    token_file: str
    role_session_name: Optional[str] = None
    duration_seconds: Optional[int] = None
    kind = "web-identity"

    def cache_args(self) -> dict:
        """botocore's cache-key arguments: RoleArn, and RoleSessionName when configured."""
        args = {"RoleArn": self.role_arn}
        if self.role_session_name:
            args["RoleSessionName"] = self.role_session_name
        return args

    def describe(self) -> str:
        return (
            f"AssumeRoleWithWebIdentity {self.role_arn} with the token in {self.token_file} "
            f"(profile '{self.profile}')"
        )


class ProcessSource(Record):
    _hidden = frozenset({"command"})
    profile: str
    command: str
    account_id: Optional[str] = None
    kind = "credential-process"

    def describe(self) -> str:
        return f"credential_process of profile '{self.profile}'"


class SsoSource(Record):
    profile: str
    settings: Tuple[Tuple[str, str], ...]
    kind = "sso"

    def describe(self) -> str:
        s = dict(self.settings)
        return (
            f"SSO role '{s.get('sso_role_name')}' in account {s.get('sso_account_id')} "
            f"(profile '{self.profile}')"
        )


BaseSource = Any  # one of the classes above


# --- role hops ----------------------------------------------------------------------------


#: RoleHop fields that are AssumeRole parameters of the same name (see sts_params).
_SHARED_WITH_PARAMS = (
    "role_arn",
    "external_id",
    "duration_seconds",
    "policy",
    "policy_arns",
    "tags",
    "transitive_tag_keys",
    "source_identity",
)


class RoleHop(Record):
    """One sts:AssumeRole call. Fields from code (policy, tags, ...) are empty from files."""

    _hidden = frozenset({"external_id"})

    profile: str
    role_arn: str
    role_session_name: Optional[str] = None
    external_id: Optional[str] = None
    mfa_serial: Optional[str] = None
    duration_seconds: Optional[int] = None
    policy: Optional[str] = None
    policy_arns: Tuple[str, ...] = ()
    tags: Tuple[Tuple[str, str], ...] = ()
    transitive_tag_keys: Tuple[str, ...] = ()
    source_identity: Optional[str] = None

    def params(self, session_name: str = "", token_code: Optional[str] = None):
        """The STS AssumeRole parameters for this hop. Without ``session_name`` (or with an
        empty one) the name counts as generated."""
        from ..sts.params import AssumeRoleParams

        shared = {name: getattr(self, name) for name in _SHARED_WITH_PARAMS}
        return AssumeRoleParams(
            role_session_name=session_name or self.role_session_name or "",
            serial_number=self.mfa_serial,
            token_code=token_code,
            session_name_generated=not self.role_session_name,
            **shared,
        )

    def cache_args(self) -> dict:
        """The AssumeRole arguments that make up the cache key (botocore's algorithm):
        no TokenCode, and no RoleSessionName when it is generated."""
        args = self.params().api_kwargs()
        if not self.role_session_name:
            args.pop("RoleSessionName", None)
        return args

    def describe(self) -> str:
        extra = []
        if self.role_session_name:
            extra.append(f"session name {self.role_session_name}")
        if self.external_id is not None:
            extra.append("external_id set")
        if self.mfa_serial:
            extra.append(f"MFA {self.mfa_serial}")
        if self.duration_seconds:
            extra.append(f"{self.duration_seconds} s")
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"AssumeRole {self.role_arn} [profile '{self.profile}']{tail}"


class Plan(Record):
    """What resolving ``profile`` will do: get ``base`` credentials, then assume ``hops`` in
    order (``hops[0]`` is assumed with the base credentials)."""

    profile: str
    base: BaseSource
    hops: Tuple[RoleHop, ...] = ()

    def cached_parts(self) -> list:
        """The parts that own a credential-cache entry (each has ``cache_args()`` and
        ``profile``): a web identity base, then every role hop."""
        parts = list(self.hops)
        if hasattr(self.base, "cache_args"):
            parts.insert(0, self.base)
        return parts

    def describe(self) -> str:
        lines = [f"profile '{self.profile}':", f"  1. {self.base.describe()}"]
        for i, hop in enumerate(self.hops, start=2):
            lines.append(f"  {i}. {hop.describe()}")
        return "\n".join(lines)

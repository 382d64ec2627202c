"""What a plan is made of: base sources, role hops and the plan itself (plain data).

Built by :mod:`awsroles.config.plan`, executed by :mod:`awsroles.resolver.hops`, printed by
``explain``. Secret fields are left out of every repr.
"""

from __future__ import annotations

from .._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Tuple, Union

    from ..credentials import Credentials

__all__ = [
    "Plan",
    "RoleHop",
    "StaticKeys",
    "NamedSource",
    "WebIdentitySource",
    "ProcessSource",
    "SsoSource",
    "LoginSource",
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

    def credentials(self) -> Credentials:
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


class LoginSource(Record):
    """``login_session``: the session ``aws login`` (console credentials) keeps in
    ``~/.aws/login/cache``. ``session`` is the value as written (the signed-in principal's
    ARN); it names the cache file and is not a secret."""

    profile: str
    session: str
    kind = "login"

    def describe(self) -> str:
        return f"aws login session {self.session} (profile '{self.profile}')"


if TYPE_CHECKING:
    #: What a plan starts from: one of the classes above.
    BaseSource = Union[
        StaticKeys, NamedSource, WebIdentitySource, ProcessSource, SsoSource, LoginSource
    ]


# --- role hops ----------------------------------------------------------------------------


class RoleHop(Record):
    """One sts:AssumeRole call. Fields from code (policy, tags, ...) are empty from files."""

    _hidden = frozenset({"external_id", "mfa_process"})

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
    #: A command printing the MFA code (``mfa_process``); never shown.
    mfa_process: Optional[str] = None
    #: ``awsroles_mfa_session_seconds``: ride an MFA session (GetSessionToken) of this length.
    mfa_session_seconds: Optional[int] = None

    def describe(self) -> str:
        extra = []
        if self.role_session_name:
            extra.append(f"session name {self.role_session_name}")
        if self.external_id is not None:
            extra.append("external_id set")
        if self.mfa_serial:
            source = ", code from mfa_process" if self.mfa_process else ""
            extra.append(f"MFA {self.mfa_serial}{source}")
        if self.mfa_session_seconds:
            extra.append(f"through an MFA session of {self.mfa_session_seconds} s")
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

    def cached_parts(self) -> List[Union[WebIdentitySource, RoleHop]]:
        """The parts that own a credential-cache entry (their key comes from
        :func:`awsroles.sts.params.cache_args`): a web identity base, then every role hop."""
        parts: List[Union[WebIdentitySource, RoleHop]] = list(self.hops)
        if isinstance(self.base, WebIdentitySource):
            parts.insert(0, self.base)
        return parts

    def describe(self) -> str:
        """One line per part, each escaped (values from the files may hold anything)."""
        from ..errors import printable

        lines = [f"profile '{self.profile}':", f"  1. {self.base.describe()}"]
        for i, hop in enumerate(self.hops, start=2):
            lines.append(f"  {i}. {hop.describe()}")
        return "\n".join(printable(line) for line in lines)

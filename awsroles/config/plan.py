"""Turn a profile into a Plan: one base source plus the role hops to assume, in order.

Pure: it reads only the already-parsed profiles (no files, no environment, no network), so
``explain`` and most tests work on it directly. The rules are botocore's:

* a profile with ``role_arn`` (and no ``web_identity_token_file``) is a role hop whose source is
  ``credential_source`` or ``source_profile``;
* a source profile that has static keys, or no role of its own, ends the chain with its own
  credentials (web identity, SSO, credentials-file keys, ``login_session``,
  credential_process, config-file keys: botocore's profile provider order);
* a profile may name itself as ``source_profile`` when it holds static keys; any other repeat is
  a cycle, reported with the whole chain.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import (
    CredentialSourceError,
    InvalidConfigError,
    PartialCredentialsError,
    ProfileNotFoundError,
    SourceProfileCycleError,
)
from . import validate
from .model import (
    LoginSource,
    NamedSource,
    Plan,
    ProcessSource,
    RoleHop,
    SsoSource,
    StaticKeys,
    WebIdentitySource,
)
from .sections import has_static_keys, key_sections, static_keys, values_of, where

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional

    from .model import BaseSource

# The plan's data types live in awsroles.config.model (imported here for the rules).
__all__ = ["build_plan", "is_role_profile", "CREDENTIAL_SOURCES"]

#: credential_source values, as the AWS CLI documents them (matched case-insensitively).
CREDENTIAL_SOURCES = ("Environment", "Ec2InstanceMetadata", "EcsContainer")


# --- building -----------------------------------------------------------------------------


def is_role_profile(values: Mapping[str, str]) -> bool:
    """botocore's assume-role test: the keys are *present* (an empty role_arn is then an
    error, not a reason to fall back to the profile's own keys)."""
    return "role_arn" in values and "web_identity_token_file" not in values


def _role_hop(name: str, profile: Any) -> RoleHop:
    vals = values_of(profile)

    def at(key: str) -> Dict[str, Any]:
        return where(profile, key)

    serial = validate.mfa_serial(vals.get("mfa_serial"), name, at("mfa_serial"))
    process = validate.command(vals.get("mfa_process"), "mfa_process", name, at("mfa_process"))
    session = validate.mfa_session_seconds(
        vals.get(validate.MFA_SESSION_KEY), name, at(validate.MFA_SESSION_KEY)
    )
    for key, value in (("mfa_process", process), (validate.MFA_SESSION_KEY, session)):
        if value is not None and not serial:
            raise InvalidConfigError(
                f"{key} is set but mfa_serial is not: it has no MFA device to work for.",
                profile=name,
                key=key,
                hint="Add mfa_serial = arn:aws:iam::<account>:mfa/<device>, or remove the key.",
                **at(key),
            )
    return RoleHop(
        profile=name,
        mfa_process=process,
        mfa_session_seconds=session,
        role_arn=validate.role_arn(vals.get("role_arn", ""), name, at("role_arn")),
        role_session_name=validate.session_name(
            vals.get("role_session_name") or None, name, at("role_session_name")
        ),
        external_id=validate.external_id(vals.get("external_id"), name, at("external_id")),
        mfa_serial=serial,
        duration_seconds=validate.duration(
            vals.get("duration_seconds"), name, at("duration_seconds")
        ),
    )


def _web_identity(name: str, profile: Any) -> WebIdentitySource:
    vals = values_of(profile)
    role_arn = vals.get("role_arn")
    if not role_arn:
        raise InvalidConfigError(
            "web_identity_token_file is set but role_arn is missing.",
            profile=name,
            key="role_arn",
            hint="Add role_arn = arn:aws:iam::<account>:role/<name> to the profile.",
            **where(profile, "web_identity_token_file"),
        )
    return WebIdentitySource(
        profile=name,
        role_arn=role_arn,
        token_file=vals["web_identity_token_file"],
        role_session_name=vals.get("role_session_name") or None,
    )


def _sso(name: str, profile: Any, sso_sessions: Mapping[str, Mapping[str, str]]) -> SsoSource:
    vals = values_of(profile)
    settings = {k: v for k, v in vals.items() if k.startswith("sso_")}
    session = vals.get("sso_session")
    if session is not None:
        if session not in sso_sessions:
            raise InvalidConfigError(
                f"sso_session '{session}' does not exist.",
                profile=name,
                key="sso_session",
                hint=f"Add an [sso-session {session}] section to the config file.",
                **where(profile, "sso_session"),
            )
        sess = values_of(sso_sessions[session])
        for key in ("sso_region", "sso_start_url"):
            if key in vals and key in sess and vals[key] != sess[key]:
                raise InvalidConfigError(
                    f"{key} is {vals[key]!r} in the profile but {sess[key]!r} in "
                    f"[sso-session {session}].",
                    profile=name,
                    key=key,
                    hint="Keep it in the sso-session section only.",
                )
            if key in sess:
                settings[key] = sess[key]
    for a, b in (("sso_role_name", "sso_account_id"), ("sso_account_id", "sso_role_name")):
        if a in vals and b not in vals:
            raise InvalidConfigError(
                f"{a} is set, so {b} must be set too.", profile=name, key=b, **where(profile, a)
            )
    return SsoSource(profile=name, settings=tuple(sorted(settings.items())))


def _own_credentials(
    name: str, profile: Any, sso_sessions: Mapping[str, Any], web_identity: bool = True
) -> Optional[BaseSource]:
    """What a profile supplies by itself, in botocore's profile-provider order
    (``ProfileProviderBuilder.providers``): web identity (unless ``web_identity`` is False),
    SSO, credentials-file keys, ``login_session``, credential_process, config-file keys."""
    vals = values_of(profile)
    if web_identity and vals.get("web_identity_token_file"):
        return _web_identity(name, profile)
    if "sso_role_name" in vals or "sso_account_id" in vals:
        return _sso(name, profile, sso_sessions)
    first = key_sections(profile)[0]
    if first[2] == "shared-credentials-file" and "aws_access_key_id" in first[1]:
        return static_keys(name, profile)
    if "login_session" in vals:  # present is enough, as for botocore's LoginProvider
        return LoginSource(name, vals["login_session"])
    if vals.get("credential_process"):
        return ProcessSource(name, vals["credential_process"], vals.get("aws_account_id") or None)
    return static_keys(name, profile)


def build_plan(
    profiles: Mapping[str, Any],
    selected: str,
    *,
    sso_sessions: Optional[Mapping[str, Any]] = None,
    web_identity: bool = True,
) -> Optional[Plan]:
    """The plan for ``selected``, or None when the profile holds no credential settings
    (the default chain then goes on to the container and instance providers).
    ``web_identity=False`` ignores the selected profile's own ``web_identity_token_file``
    (botocore, when ``AWS_WEB_IDENTITY_TOKEN_FILE`` is set but empty).

    Raises ProfileNotFoundError, InvalidConfigError, PartialCredentialsError,
    CredentialSourceError or SourceProfileCycleError, each naming profile and key."""
    sso_sessions = sso_sessions or {}
    if selected not in profiles:
        raise ProfileNotFoundError(
            f"profile '{selected}' does not exist.",
            hint=_available(profiles),
        )
    top = profiles[selected]
    vals = values_of(top)
    if not is_role_profile(vals):
        _no_session_without_role(selected, top)
        base = _own_credentials(selected, top, sso_sessions, web_identity)
        return Plan(selected, base) if base is not None else None

    hops = []
    visited = [selected]
    name, profile = selected, top
    while True:
        vals = values_of(profile)
        source_profile = vals.get("source_profile")
        credential_source = vals.get("credential_source")
        if source_profile is not None and credential_source is not None:
            raise CredentialSourceError(
                "source_profile and credential_source are both set; a role takes its source "
                "credentials from one of them.",
                profile=name,
                key="credential_source",
                hint="Remove one of the two keys.",
                **where(profile, "credential_source"),
            )
        if source_profile is None and credential_source is None:
            raise PartialCredentialsError(
                "role_arn is set but neither source_profile nor credential_source says where "
                "the credentials to assume it come from.",
                profile=name,
                key="source_profile",
                hint="Add source_profile = <profile with keys> or credential_source = "
                + " | ".join(CREDENTIAL_SOURCES),
                **where(profile, "role_arn"),
            )
        hop = _role_hop(name, profile)
        hops.append(hop)
        if credential_source is not None:
            base = NamedSource(_credential_source(name, profile, credential_source), name)
            break
        assert source_profile is not None  # one of the two is set (checked above)
        if source_profile == name:
            base = static_keys(name, profile) if has_static_keys(profile) else None
            if base is None:
                raise _cycle(visited + [name], profile, name)
            break
        if source_profile in visited:
            raise _cycle(visited + [source_profile], profile, name)
        if source_profile not in profiles:
            raise InvalidConfigError(
                f"source_profile '{source_profile}' does not exist.",
                profile=name,
                key="source_profile",
                hint=_available(profiles),
                **where(profile, "source_profile"),
            )
        visited.append(source_profile)
        src = profiles[source_profile]
        svals = values_of(src)
        if has_static_keys(src) or not is_role_profile(svals):
            _no_session_without_role(source_profile, src)
            base = _own_credentials(source_profile, src, sso_sessions)
            if base is None:
                raise InvalidConfigError(
                    f"source profile '{source_profile}' (used by profile '{name}') has no "
                    "credentials.",
                    profile=source_profile,
                    hint="Give it aws_access_key_id and aws_secret_access_key, a role_arn with "
                    "its own source, web_identity_token_file, SSO settings, login_session or "
                    "credential_process.",
                )
            break
        name, profile = source_profile, src
    plan = Plan(selected, base, tuple(reversed(hops)))
    _check_mfa_sessions(plan, profiles)
    return plan


def _no_session_without_role(name: str, profile: Any) -> None:
    """The MFA-session key only means something on a role: on a profile whose own credentials
    are used, ignoring it would hand out the long-lived keys without the MFA context asked for."""
    if validate.MFA_SESSION_KEY in values_of(profile):
        raise InvalidConfigError(
            f"{validate.MFA_SESSION_KEY} is set on a profile whose own credentials are used, "
            "not a role: there is no role for an MFA session to carry.",
            profile=name,
            key=validate.MFA_SESSION_KEY,
            hint="Put it (with mfa_serial) on the role profile whose source_profile is this "
            "one, or remove it.",
            **where(profile, validate.MFA_SESSION_KEY),
        )


def _check_mfa_sessions(plan: Plan, profiles: Mapping[str, Any]) -> None:
    """An MFA session (GetSessionToken) can only be made with long-lived IAM user keys: the
    hop that asks for one must be the first, on static keys without a session token or on
    ``credential_source = Environment`` (whose keys are checked when read)."""
    for index, hop in enumerate(plan.hops):
        if hop.mfa_session_seconds is None:
            continue
        base = plan.base
        long_lived = (isinstance(base, StaticKeys) and base.token is None) or (
            isinstance(base, NamedSource) and base.name == "Environment"
        )
        if index == 0 and long_lived:
            continue
        source = plan.hops[index - 1].profile if index else getattr(base, "profile", "?")
        raise InvalidConfigError(
            f"{validate.MFA_SESSION_KEY} needs long-lived IAM user keys as the role's source, "
            f"but profile '{hop.profile}' gets its credentials from "
            + (f"the role of profile '{source}'" if index else base.describe())
            + ".",
            profile=hop.profile,
            key=validate.MFA_SESSION_KEY,
            hint="Use it on the role whose source_profile holds aws_access_key_id and "
            "aws_secret_access_key (no aws_session_token), or remove the key.",
            **where(profiles.get(hop.profile), validate.MFA_SESSION_KEY),
        )


def _credential_source(name: str, profile: Any, value: str) -> str:
    for canonical in CREDENTIAL_SOURCES:
        if value.strip().lower() == canonical.lower():
            return canonical
    raise CredentialSourceError(
        f"credential_source {value!r} is not valid; valid values are "
        + ", ".join(CREDENTIAL_SOURCES)
        + ".",
        profile=name,
        key="credential_source",
        **where(profile, "credential_source"),
    )


def _cycle(chain: List[str], profile: Any, name: str) -> SourceProfileCycleError:
    return SourceProfileCycleError(
        "source_profile links form a loop: " + " -> ".join(chain) + ".",
        chain=tuple(chain),
        profile=name,
        key="source_profile",
        hint="Point the last profile at one that has keys or a credential_source.",
        **where(profile, "source_profile"),
    )


def _available(profiles: Mapping[str, Any]) -> str:
    names = sorted(profiles)
    if not names:
        return "No profiles are defined; run `aws configure` or create ~/.aws/config."
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    return f"Profiles defined: {shown}."

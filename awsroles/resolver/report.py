"""The explanation of a resolution: the files, every provider's answer, the plan and its
cache entries. Offline (it reads files and the cache, never the network) and without
secrets."""

from __future__ import annotations

from ..errors import AwsRolesError, printable
from .chain import CredentialChain, default_providers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Sequence, Tuple

    from ..config.model import Plan, RoleHop
    from ..context import Context
    from ..providers.base import Provider

__all__ = ["render_report"]


def render_report(
    ctx: Context, providers: Optional[Sequence[Provider]] = None
) -> Tuple[str, Optional[AwsRolesError]]:
    """(text, error): ``error`` is the AwsRolesError resolution would raise, or None."""
    chain = CredentialChain(default_providers(ctx) if providers is None else providers)
    cfg = ctx.config
    lines = [
        printable(f"config file:      {cfg.config_path}"),
        printable(f"credentials file: {cfg.credentials_path}"),
        printable(f"selected profile: {ctx.profile_name}" + _profile_origin(ctx)),
        "provider chain:",
    ]
    report = chain.report(ctx)
    lines.append(report.describe())
    error = report.error
    if report.chosen is None and error is None:
        lines.append("no provider applies: resolution fails with NoCredentialsError")
    plan = report.chosen.plan if report.chosen is not None else None
    if plan is not None:
        lines.append("plan:")
        lines.append(plan.describe())
        lines.extend(printable(line) for line in _cache_lines(plan, ctx))
        lines.extend(printable(line) for line in _mfa_lines(plan, ctx))
        lines.extend(printable(line) for line in _login_lines(plan, ctx))
    return "\n".join(lines), error


def _profile_origin(ctx: Context) -> str:
    if ctx.settings.profile is not None:
        return " (named in code/command line)"
    for var in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE"):
        if var in ctx.env:
            return f" (from {var})"
    return " (default)"


def _cache_lines(plan: Plan, ctx: Context) -> List[str]:
    from ..refresh.policy import MANDATORY_WINDOW
    from ..sts.wire import credentials_from_response
    from .entries import plan_entries

    out: List[str] = []
    cached = plan_entries(plan, sessions=False)  # the MFA section shows the sessions
    if not cached:
        return out
    out.append("cache:")
    cache = ctx.services.cache
    directory = getattr(cache, "directory", None)
    for part in cached:
        key = part.key
        entry = cache.load(key)
        where = f"{directory}/{key}.json" if directory else key
        if entry is None:
            out.append(f"  {part.profile}: {where}: no valid entry ({part.filler} will be called)")
            continue
        try:
            creds = credentials_from_response(entry, "cached")
        except AwsRolesError:
            out.append(f"  {part.profile}: {where}: unreadable entry (will be replaced)")
            continue
        left = (creds.expiry - ctx.clock.now()).total_seconds() if creds.expiry else None
        fresh = left is None or left > MANDATORY_WINDOW
        status = "valid" if fresh else "expiring (will be refreshed)"
        exp = creds.expiry.isoformat() if creds.expiry else "never"
        mins = f", {int(left // 60)} min left" if left is not None and left > 0 else ""
        out.append(f"  {part.profile}: {where}: {status}, expires {exp}{mins}")
    return out


def _login_lines(plan: Plan, ctx: Context) -> List[str]:
    """For a ``login_session`` base: the cached session's state and where a refresh goes."""
    from ..config.model import LoginSource

    if not isinstance(plan.base, LoginSource):
        return []
    from ..providers.login import describe_login

    return ["login:"] + [f"  {line}" for line in describe_login(plan.base, ctx)]


def _mfa_lines(plan: Plan, ctx: Context) -> List[str]:
    """For each hop with an MFA device: where its code will come from, and the state of the
    MFA session it rides (valid until when, or a code will be asked)."""
    hops = [hop for hop in plan.hops if hop.mfa_serial]
    if not hops:
        return []
    out = ["MFA:"]
    for hop in hops:
        sources = []
        if ctx.services.prompter is not None:
            sources.append("the prompter given in code (or --mfa-token)")
        if hop.mfa_process:  # it gives a code or fails: the terminal is not reached
            sources.append("mfa_process (a command, run without a shell)")
        else:
            sources.append("the terminal (/dev/tty, else one line from stdin)")
        source = ", else ".join(sources)
        out.append(f"  {hop.profile}: code for {hop.mfa_serial} from {source}")
        if hop.mfa_session_seconds:
            out.append(f"  {hop.profile}: {_session_state(plan, hop, ctx)}")
    return out


def _session_state(plan: Plan, hop: RoleHop, ctx: Context) -> str:
    from ..cache.key import cache_key
    from ..config.model import StaticKeys
    from ..refresh.policy import MANDATORY_WINDOW
    from ..sts.wire import credentials_from_response
    from .mfa_session import session_cache_args

    what = f"MFA session of {hop.mfa_session_seconds} s"
    base = plan.base
    access_key = (
        base.access_key if isinstance(base, StaticKeys) else ctx.env.get("AWS_ACCESS_KEY_ID")
    )
    if not access_key or hop.mfa_serial is None or hop.mfa_session_seconds is None:
        return f"{what}: its source keys are not known yet (a code may be asked)"
    key = cache_key(session_cache_args(access_key, hop.mfa_serial, hop.mfa_session_seconds))
    entry = ctx.services.cache.load(key)
    try:
        creds = credentials_from_response(entry, "mfa-session") if entry else None
    except AwsRolesError:
        creds = None
    left = creds.seconds_left(ctx.clock.now()) if creds is not None else None
    if creds is None or left is None or left <= MANDATORY_WINDOW:
        return f"{what}: none valid in the cache ({key}.json); a code will be asked once"
    assert creds.expiry is not None
    return (
        f"{what}: valid until {creds.expiry.isoformat()} ({int(left // 60)} min left; "
        "no code needed until then)"
    )

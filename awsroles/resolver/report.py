"""The explanation of a resolution: the files, every provider's answer, the plan and its
cache entries. Offline (it reads files and the cache, never the network) and without
secrets."""

from __future__ import annotations

from ..errors import AwsRolesError, printable
from .chain import CredentialChain, default_providers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Sequence, Tuple

    from ..config.model import Plan
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
    return "\n".join(lines), error


def _profile_origin(ctx: Context) -> str:
    if ctx.settings.profile is not None:
        return " (named in code/command line)"
    for var in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE"):
        if var in ctx.env:
            return f" (from {var})"
    return " (default)"


def _cache_lines(plan: Plan, ctx: Context) -> List[str]:
    from ..cache.key import cache_key
    from ..refresh.policy import MANDATORY_WINDOW
    from ..sts.params import cache_args
    from ..sts.wire import credentials_from_response

    out: List[str] = []
    cached = plan.cached_parts()
    if not cached:
        return out
    out.append("cache:")
    cache = ctx.services.cache
    directory = getattr(cache, "directory", None)
    for part in cached:
        key = cache_key(cache_args(part))
        entry = cache.load(key)
        where = f"{directory}/{key}.json" if directory else key
        if entry is None:
            out.append(f"  {part.profile}: {where}: no valid entry (STS will be called)")
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

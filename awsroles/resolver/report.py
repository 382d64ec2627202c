"""Render the explanation of a resolution: no network, no secrets."""

from __future__ import annotations

from typing import Any

from ..config.model import Plan
from ..errors import AwsRolesError


def render(ctx: Any, chain: Any) -> str:
    return render_report(ctx, chain)[0]


def render_report(ctx: Any, chain: Any) -> tuple:
    """(text, error): ``error`` is the AwsRolesError resolution would raise, or None."""
    lines = []
    cfg = ctx.config
    lines.append(f"config file:      {getattr(cfg, 'config_path', '?')}")
    lines.append(f"credentials file: {getattr(cfg, 'credentials_path', '?')}")
    lines.append(f"selected profile: {ctx.profile_name}" + _profile_origin(ctx))
    lines.append("provider chain:")
    report = chain.report(ctx)
    lines.append(report.describe())
    error = report.error
    if report.chosen is None:
        lines.append("no provider applies: resolution fails with NoCredentialsError")
    if report.chosen == "profile" and error is None:
        from .profile import ProfileProvider

        try:
            plan = ProfileProvider().plan(ctx)
        except AwsRolesError as exc:
            lines.append(f"plan: error: {exc}")
            plan, error = None, exc
        if plan is not None:
            lines.append("plan:")
            lines.append(plan.describe())
            lines.extend(_cache_lines(plan, ctx))
    return "\n".join(lines), error


def _profile_origin(ctx: Any) -> str:
    if ctx.explicit_profile is not None:
        return " (named in code/command line)"
    for var in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE"):
        if var in ctx.env:
            return f" (from {var})"
    return " (default)"


def _cache_lines(plan: Plan, ctx: Any) -> list:
    from ..cache.store import cache_key
    from ..sts.wire import credentials_from_response

    out = []
    cached = plan.cached_parts()
    if not cached:
        return out
    out.append("cache:")
    directory = getattr(ctx.cache, "directory", None)
    for hop in cached:
        key = cache_key(hop.cache_args())
        entry = ctx.cache.load(key)
        where = f"{directory}/{key}.json" if directory else key
        if entry is None:
            out.append(f"  {hop.profile}: {where}: no valid entry (STS will be called)")
            continue
        try:
            creds = credentials_from_response(entry, "cached")
        except AwsRolesError:
            out.append(f"  {hop.profile}: {where}: unreadable entry (will be replaced)")
            continue
        left = (creds.expiry - ctx.clock.now()).total_seconds() if creds.expiry else None
        status = "valid" if left is None or left > 60 else "expiring (will be refreshed)"
        exp = creds.expiry.isoformat() if creds.expiry else "never"
        mins = f", {int(left // 60)} min left" if left is not None and left > 0 else ""
        out.append(f"  {hop.profile}: {where}: {status}, expires {exp}{mins}")
    return out

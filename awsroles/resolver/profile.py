"""Credentials from the selected profile of the shared files: turn it into a Plan and run it."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from ..config.model import Plan, StaticKeys
from ..config.plan import build_plan, is_role_profile
from ..errors import ProfileNotFoundError


def _method(plan: Plan, ctx: Any) -> str:
    if plan.hops:
        return "assume-role"
    if isinstance(plan.base, StaticKeys):
        return plan.base.method
    return {
        "web-identity": "assume-role-with-web-identity",
        "credential-process": "custom-process",
        "sso": "sso",
    }.get(plan.base.kind, plan.base.kind)


class ProfileProvider:
    name = "profile"

    def plan(self, ctx: Any) -> Optional[Plan]:
        """The plan for the selected profile (and botocore's web identity environment
        variables); None when there is nothing to resolve here."""
        config = ctx.config
        name = ctx.profile_name
        exists = name in config.profiles
        if not exists and ctx.profile_from_env_or_code:
            # Named explicitly: botocore raises ProfileNotFound; so do we, naming the files.
            config.profile(name)
            raise ProfileNotFoundError(f"profile '{name}' does not exist.")
        values = config.profiles[name].values if exists else {}
        plan = None
        if not is_role_profile(values):
            # botocore: assume-role first, then web identity (env or profile keys), then the
            # profile's own SSO / keys / process.
            from ..providers.web_identity import env_web_identity

            web = env_web_identity(ctx, values, name if exists else None)
            if web is not None:
                plan = Plan(name, web)
        if plan is None and exists:
            plan = build_plan(
                config.profiles,
                name,
                sso_sessions=getattr(config, "sso_sessions", {}),
                # botocore: AWS_WEB_IDENTITY_TOKEN_FILE set but empty beats the profile's key,
                # and its web identity provider then skips this profile
                web_identity=not _env_disables_web_identity(ctx),
            )
        options = getattr(ctx, "role_options", None)
        if options and plan is not None:
            from ..config.options import apply_role_options

            plan = apply_role_options(plan, options)
            ctx.role_options_applied = True
        return plan

    def check(self, ctx: Any) -> Tuple[bool, str]:
        plan = self.plan(ctx)
        if plan is None:
            name = ctx.profile_name
            if name not in ctx.config.profiles:
                return False, f"profile '{name}' is not defined"
            return False, f"profile '{name}' has no credential settings"
        return True, f"profile '{plan.profile}' resolves as {_method(plan, ctx)}"

    def load(self, ctx: Any) -> Optional[Any]:
        plan = self.plan(ctx)
        if plan is None:
            return None
        from .hops import resolve_plan

        return resolve_plan(plan, ctx)


def _env_disables_web_identity(ctx: Any) -> bool:
    env = ctx.env if ctx.explicit_profile is None else {}
    return "AWS_WEB_IDENTITY_TOKEN_FILE" in env and not env["AWS_WEB_IDENTITY_TOKEN_FILE"]

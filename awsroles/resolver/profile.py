"""Credentials from the selected profile of the shared files: turn it into a Plan (offline),
then run it on first load (:mod:`.hops`)."""

from __future__ import annotations

from ..config.model import Plan, StaticKeys
from ..config.plan import build_plan, is_role_profile
from ..errors import ProfileNotFoundError
from ..providers.base import Applies, NotApplicable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Union

    from ..context import Context
    from ..protocols import CredentialSource

__all__ = ["ProfileProvider", "plan_method"]

_BASE_METHODS = {
    "web-identity": "assume-role-with-web-identity",
    "credential-process": "custom-process",
    "sso": "sso",
    "login": "login",
}


def plan_method(plan: Plan) -> str:
    """botocore's METHOD for the credentials ``plan`` produces."""
    if plan.hops:
        return "assume-role"
    if isinstance(plan.base, StaticKeys):
        return plan.base.method
    return _BASE_METHODS.get(plan.base.kind, plan.base.kind)


class ProfileProvider:
    """The shared files' profile (botocore's assume-role, web identity, SSO, shared
    credentials, login, process and config-file providers, in botocore's order)."""

    name = "profile"

    def find(self, ctx: Context) -> Union[Applies, NotApplicable]:
        plan = self.plan(ctx)
        if plan is None:
            name = ctx.profile_name
            if name not in ctx.config.profiles:
                return NotApplicable(self.name, f"profile '{name}' is not defined")
            return NotApplicable(self.name, f"profile '{name}' has no credential settings")

        def load() -> CredentialSource:
            from .hops import execute_plan

            return execute_plan(plan, ctx)

        reason = f"profile '{plan.profile}' resolves as {plan_method(plan)}"
        return Applies(self.name, reason, load, plan)

    def plan(self, ctx: Context) -> Optional[Plan]:
        """The plan for the selected profile (and botocore's web identity environment
        variables), with the caller's role options applied; None when there is nothing to
        resolve here."""
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
                sso_sessions=config.sso_sessions,
                # botocore: AWS_WEB_IDENTITY_TOKEN_FILE set but empty beats the profile's key,
                # and its web identity provider then skips this profile
                web_identity=not _env_disables_web_identity(ctx),
            )
        options = ctx.settings.role_options
        if options and plan is not None:
            from ..config.options import apply_role_options

            plan = apply_role_options(plan, options)
        return plan


def _env_disables_web_identity(ctx: Context) -> bool:
    env = ctx.env if ctx.settings.profile is None else {}
    return "AWS_WEB_IDENTITY_TOKEN_FILE" in env and not env["AWS_WEB_IDENTITY_TOKEN_FILE"]

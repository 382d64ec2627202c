"""The default provider chain, in botocore's order for the providers awsroles has, and the
chain runner that ``resolve`` and ``explain`` share."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from .._log import get_logger
from .._record import Record
from ..errors import AwsRolesError, NoCredentialsError

log = get_logger("awsroles")

__all__ = ["default_providers", "CredentialChain", "ChainReport"]


class _LazyProvider:
    """A provider imported only when the chain reaches it: a warm start resolved by the
    environment or the profile never imports the container or IMDS code."""

    def __init__(self, name: str, module: str, cls: str) -> None:
        self.name = name
        self._where = (module, cls)
        self._provider: Any = None

    def _get(self) -> Any:
        if self._provider is None:
            import importlib

            module, cls = self._where
            self._provider = getattr(importlib.import_module(module), cls)()
        return self._provider

    def load(self, ctx: Any) -> Any:
        return self._get().load(ctx)

    def check(self, ctx: Any) -> Any:
        return self._get().check(ctx)

    def __repr__(self) -> str:
        return f"<provider {self.name}>"


def default_providers(ctx: Any) -> List[Any]:
    """env -> profile (assume-role, web identity, SSO, files, process) -> container -> IMDS.

    As in botocore, naming a profile in code drops the env provider (AWS_PROFILE does not)."""
    from .profile import ProfileProvider

    providers: List[Any] = []
    if ctx.explicit_profile is None:
        from ..providers.env import EnvProvider

        providers.append(EnvProvider())
    providers.append(ProfileProvider())
    providers.append(
        _LazyProvider("container-role", "awsroles.providers.container", "ContainerProvider")
    )
    providers.append(_LazyProvider("iam-role", "awsroles.providers.imds", "ImdsProvider"))
    return providers


class ChainReport(Record):
    """Which provider applies and why the ones before it were skipped."""

    chosen: Optional[str]
    reasons: tuple  # ((provider name, applies, reason), ...)
    #: The error the chosen provider raised: resolution would fail with it.
    error: Optional[AwsRolesError] = None

    def describe(self) -> str:
        lines = []
        for name, applies, reason in self.reasons:
            mark = "->" if name == self.chosen else "  "
            if name == self.chosen:
                verdict = "fails" if self.error is not None else "used"
            else:
                verdict = "skipped" if not applies else "not reached"
            if self.error is not None and name == self.chosen:
                reason = reason[len("error: ") :]
            lines.append(f" {mark} {name:<14} {verdict}: {reason}")
        return "\n".join(lines)


class CredentialChain:
    def __init__(self, providers: Sequence[Any]) -> None:
        self.providers = list(providers)

    def resolve(self, ctx: Any) -> Any:
        skipped = []
        for provider in self.providers:
            creds = provider.load(ctx)
            if creds is not None:
                log.info("awsroles: credentials from the %s provider", provider.name)
                return creds
            skipped.append(provider.name)
        raise NoCredentialsError(
            "no credentials found (tried: " + ", ".join(skipped) + ").",
            hint="Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or select a profile with "
            "AWS_PROFILE or profile=..., or run `awsroles explain` to see why each source "
            "was skipped.",
        )

    def report(self, ctx: Any) -> ChainReport:
        chosen = None
        reasons = []
        for provider in self.providers:
            try:
                applies, reason = provider.check(ctx)
            except AwsRolesError as exc:
                if chosen is None:
                    reasons.append((provider.name, True, f"error: {exc}"))
                    return ChainReport(provider.name, tuple(reasons), error=exc)
                applies, reason = True, f"error: {exc}"
            if applies and chosen is None:
                chosen = provider.name
            reasons.append((provider.name, applies, reason))
        return ChainReport(chosen, tuple(reasons))

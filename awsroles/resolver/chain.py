"""The provider chain: botocore's order for the providers awsroles has, the runner that
``resolve`` uses, and the report that ``explain`` prints from the same answers."""

from __future__ import annotations

from .._log import get_logger
from .._record import Record
from ..errors import AwsRolesError, NoCredentialsError, printable
from ..providers.base import Applies, NotApplicable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, List, Optional, Sequence, Tuple, Union

    from ..context import Context
    from ..protocols import CredentialSource
    from ..providers.base import Provider

log = get_logger("awsroles")

__all__ = ["default_providers", "CredentialChain", "ChainReport", "Resolution"]


class _LazyProvider:
    """A provider imported only when the chain reaches it: a warm start resolved by the
    environment or the profile never imports the container or IMDS code."""

    def __init__(self, name: str, module: str, cls: str) -> None:
        self.name = name
        self._where = (module, cls)
        self._provider: Optional[Provider] = None

    def find(self, ctx: Context) -> Union[Applies, NotApplicable]:
        if self._provider is None:
            import importlib

            module, cls = self._where
            self._provider = getattr(importlib.import_module(module), cls)()
        return self._provider.find(ctx)

    def __repr__(self) -> str:
        return f"<provider {self.name}>"


def default_providers(ctx: Context) -> List[Provider]:
    """env -> profile (assume-role, web identity, SSO, files, process) -> container -> IMDS.

    As in botocore, naming a profile in code drops the env provider (AWS_PROFILE does not)."""
    from .profile import ProfileProvider

    providers: List[Provider] = []
    if ctx.settings.profile is None:
        from ..providers.env import EnvProvider

        providers.append(EnvProvider())
    providers.append(ProfileProvider())
    providers.append(
        _LazyProvider("container-role", "awsroles.providers.container", "ContainerProvider")
    )
    providers.append(_LazyProvider("iam-role", "awsroles.providers.imds", "ImdsProvider"))
    return providers


class Resolution(Record):
    """What resolving found: the credentials, and the provider's answer they came from
    (``found.plan`` is the profile's plan when they came from the shared files)."""

    credentials: CredentialSource
    found: Applies


class ChainReport(Record):
    """Which provider applies and why the ones before it were skipped."""

    chosen: Optional[Applies]
    reasons: Tuple[Tuple[str, bool, str], ...]  # (provider name, applies, reason)
    #: The error the chosen provider raised: resolution would fail with it.
    error: Optional[AwsRolesError] = None

    def describe(self) -> str:
        lines = []
        chosen = self.chosen.provider if self.chosen is not None else None
        if self.error is not None:
            chosen = self.reasons[-1][0]
        for name, applies, reason in self.reasons:
            mark = "->" if name == chosen else "  "
            if name == chosen:
                verdict = "fails" if self.error is not None else "used"
            else:
                verdict = "skipped" if not applies else "not reached"
            lines.append(f" {mark} {name:<14} {verdict}: {reason}")
        return "\n".join(printable(line) for line in lines)


class CredentialChain:
    """Providers in order; the first that applies and loads supplies the credentials."""

    def __init__(self, providers: Sequence[Provider]) -> None:
        self.providers = list(providers)

    def resolve(
        self, ctx: Context, *, before_load: Optional[Callable[[Applies], None]] = None
    ) -> Resolution:
        """Load the first provider that applies (``before_load`` sees its answer first).
        NoCredentialsError when none does."""
        skipped = []
        for provider in self.providers:
            found = provider.find(ctx)
            if isinstance(found, Applies):
                if before_load is not None:
                    before_load(found)
                loaded = found.load()
                if not isinstance(loaded, NotApplicable):
                    log.info("awsroles: credentials from the %s provider", provider.name)
                    return Resolution(loaded, found)
                # it applied but found nothing (IMDS out of reach): the error says why
                skipped.append(f"{provider.name}: {loaded.reason.rstrip('.')}")
                continue
            skipped.append(provider.name)
        raise NoCredentialsError(
            "no credentials found (tried: " + "; ".join(skipped) + ").",
            hint="Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or select a profile with "
            "AWS_PROFILE or profile=..., or run `awsroles explain` to see why each source "
            "was skipped.",
            cli_hint="Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or select a profile with "
            "--profile or AWS_PROFILE, or run `awsroles explain` to see why each source was "
            "skipped.",
        )

    def report(self, ctx: Context) -> ChainReport:
        """Every provider's answer, offline: nothing is loaded."""
        chosen: Optional[Applies] = None
        reasons: List[Tuple[str, bool, str]] = []
        for provider in self.providers:
            try:
                found = provider.find(ctx)
            except AwsRolesError as exc:
                if chosen is None:
                    reasons.append((provider.name, True, str(exc)))
                    return ChainReport(None, tuple(reasons), error=exc)
                reasons.append((provider.name, True, f"error: {exc}"))
                continue
            applies = isinstance(found, Applies)
            if isinstance(found, Applies) and chosen is None:
                chosen = found
            reasons.append((provider.name, applies, found.reason))
        return ChainReport(chosen, tuple(reasons))

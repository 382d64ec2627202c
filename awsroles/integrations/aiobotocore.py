"""awsroles inside aiobotocore: the same two providers as in botocore (:mod:`.botocore`), whose
``load()`` runs awsroles' chain off the event loop and returns credentials aiobotocore awaits
(:class:`~awsroles.refresh.aio.AioCredentials`)."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .._log import get_logger
from ..errors import AwsRolesError
from ..refresh.aio import AioCredentials, run_off_loop
from .botocore import (
    INVALIDATED,
    SIGNING_KEY,
    AwsRolesProvider,
    chain_settings,
    expired_key,
    put_in,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import botocore.session

__all__ = ["AioAwsRolesProvider", "install", "new_session"]

log = get_logger("awsroles")

_MISSING = AwsRolesError("aiobotocore is not installed.", hint="pip install 'awsroles[aio]'")


class AioAwsRolesProvider(AwsRolesProvider):
    """:class:`~awsroles.integrations.botocore.AwsRolesProvider` for aiobotocore: the chain
    runs on awsroles' worker threads (it reads files and may call the container endpoint or
    instance metadata), so the loop runs on meanwhile."""

    async def load(self) -> Optional[AioCredentials]:  # type: ignore[override]
        found = await run_off_loop(self.find)
        if found is None:
            return None
        creds = AioCredentials(*found)
        self._installed.credentials = creds
        return creds


def _aio_session_class() -> Any:
    try:
        from aiobotocore.session import AioSession
    except ImportError:
        raise _MISSING from None
    return AioSession


def install(session: botocore.session.Session, **options: Any) -> AwsRolesProvider:
    """awsroles' chain into an aiobotocore ``AioSession``, as ``awsroles.install`` puts it
    into a botocore one. ``options`` are ``awsroles.install``'s."""
    settings, services = chain_settings(**options)  # a misspelt option fails first
    if not isinstance(session, _aio_session_class()):
        raise TypeError(
            f"awsroles.aio.install() takes an aiobotocore AioSession, not "
            f"{type(session).__name__} (for botocore and boto3 use awsroles.install())"
        )
    installed, front = put_in(session, settings, services, AioAwsRolesProvider)

    async def on_before_sign(request: Any = None, request_signer: Any = None, **_: Any) -> None:
        # As in botocore: note which set signs the request, when it is awsroles'.
        creds = installed.credentials
        if creds is None or request is None or not isinstance(creds, AioCredentials):
            return
        signs_with_ours = getattr(request_signer, "_credentials", None) is creds
        if signs_with_ours:
            request.context[SIGNING_KEY] = (await creds.get_frozen_credentials()).access_key

    async def on_after_call(
        parsed: Optional[Mapping[str, Any]] = None,
        context: Optional[Mapping[str, Any]] = None,
        **_: Any,
    ) -> None:
        creds = installed.credentials
        found = expired_key(parsed, context)
        if found is not None and isinstance(creds, AioCredentials):
            if await creds.invalidate(found[1]):
                log.info(INVALIDATED, found[0])

    session.register("before-sign", on_before_sign, unique_id="awsroles-signing-key")
    session.register("after-call", on_after_call, unique_id="awsroles-invalidate")
    return front


def new_session(profile: Optional[str] = None, **options: Any) -> botocore.session.Session:
    """A new aiobotocore ``AioSession`` for ``profile`` with awsroles installed."""
    chain_settings(**options)  # a misspelt option fails before anything is made
    session: botocore.session.Session = _aio_session_class()(profile=profile)
    install(session, **options)
    return session

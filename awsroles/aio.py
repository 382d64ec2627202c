"""awsroles for asyncio programs: the same chain, cache files, locks and refresh rules as
``awsroles``, awaited without blocking the event loop.

    import awsroles.aio

    creds = await awsroles.aio.resolve(profile="dev")
    frozen = await creds.get_frozen_credentials()

    session = awsroles.aio.aiobotocore_session(profile="dev")
    async with session.create_client("s3") as s3:
        await s3.list_buckets()

Each function takes the same keyword parameters as its synchronous namesake
(``awsroles.resolve``, ``awsroles.botocore_session``, ``awsroles.install``). aiobotocore is
optional (``pip install 'awsroles[aio]'``); without it the two aiobotocore functions raise
``AwsRolesError`` saying so, and the rest works.
"""

from __future__ import annotations

from . import api
from .integrations import botocore as _botocore
from .refresh.aio import AioCredentials

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, ParamSpec, TypeVar

    import botocore.session

    from .integrations.botocore import AwsRolesProvider

    P = ParamSpec("P")
    R = TypeVar("R")

__all__ = ["resolve", "aiobotocore_session", "install", "AioCredentials"]


def _parameters_of(sync: Callable[P, Any]) -> Callable[[Callable[..., R]], Callable[P, R]]:
    """Give the decorated function ``sync``'s parameters, for type checkers (a misspelt
    option is an error there) and for ``inspect.signature`` and ``help()``."""

    def decorate(fn: Callable[..., R]) -> Callable[P, R]:
        import inspect

        ours = inspect.signature(fn).return_annotation
        fn.__signature__ = inspect.signature(sync).replace(  # type: ignore[attr-defined]
            return_annotation=ours
        )
        return fn

    return decorate


@_parameters_of(api.resolve)
async def resolve(*args: Any, **kwargs: Any) -> AioCredentials:
    """Credentials for ``profile``, as ``awsroles.resolve()`` finds them (the same parameters),
    with an awaitable ``get_frozen_credentials()``. The files are read, and a first call made
    if the chain needs one to choose, on awsroles' worker threads."""
    from .refresh.aio import run_off_loop

    return AioCredentials(await run_off_loop(api.resolve, *args, **kwargs))


@_parameters_of(_botocore.botocore_session)
def aiobotocore_session(*args: Any, **kwargs: Any) -> botocore.session.Session:
    """An aiobotocore ``AioSession`` for ``profile`` whose credentials come from awsroles'
    whole chain (:func:`install`); the parameters are ``awsroles.botocore_session()``'s."""
    from .integrations.aiobotocore import new_session

    return new_session(*args, **kwargs)


@_parameters_of(_botocore.install)
def install(*args: Any, **kwargs: Any) -> AwsRolesProvider:
    """Put awsroles' chain into an aiobotocore ``AioSession``, in botocore's order, as
    ``awsroles.install()`` does for botocore (the same parameters). Clients made from it
    await awsroles' credentials, and an ``ExpiredToken`` from a call makes the next one
    refresh."""
    from .integrations.aiobotocore import install as put

    return put(*args, **kwargs)

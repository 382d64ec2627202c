"""A boto3.Session whose role credentials come from (and refresh through) awsroles."""

from __future__ import annotations

from ..context import DEFAULT_CACHE, DEFAULT_LOCK_TIMEOUT
from ..errors import AwsRolesError
from .botocore import botocore_session

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Optional, TextIO

    import boto3

    from ..config.files import SharedConfig
    from ..protocols import Clock, CredentialCache, Prompter, Transport

__all__ = ["boto3_session"]


def boto3_session(
    profile: Optional[str] = None,
    *,
    region_name: Optional[str] = None,
    region: Optional[str] = None,
    sts_endpoint_url: Optional[str] = None,
    role_options: Optional[Mapping[str, Any]] = None,
    advisory_timeout: Optional[float] = None,
    mandatory_timeout: Optional[float] = None,
    background_refresh: bool = True,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    process_timeout: Optional[float] = None,
    env: Optional[Mapping[str, str]] = None,
    clock: Optional[Clock] = None,
    transport: Optional[Transport] = None,
    cache: Optional[CredentialCache] = DEFAULT_CACHE,
    prompter: Optional[Prompter] = None,
    process_stderr: Optional[TextIO] = None,
    config: Optional[SharedConfig] = None,
) -> boto3.Session:
    """A ``boto3.Session`` for ``profile`` whose role profiles resolve through awsroles.
    ``region_name`` is the session's region (boto3's parameter); ``region`` is where STS
    calls go, as for ``awsroles.resolve()``, like every other parameter."""
    try:
        import boto3
    except ImportError:  # pragma: no cover - depends on the install
        raise AwsRolesError(
            "boto3 is not installed.", hint="pip install 'awsroles[boto3]'"
        ) from None
    session = botocore_session(
        profile,
        region=region,
        sts_endpoint_url=sts_endpoint_url,
        role_options=role_options,
        advisory_timeout=advisory_timeout,
        mandatory_timeout=mandatory_timeout,
        background_refresh=background_refresh,
        lock_timeout=lock_timeout,
        process_timeout=process_timeout,
        env=env,
        clock=clock,
        transport=transport,
        cache=cache,
        prompter=prompter,
        process_stderr=process_stderr,
        config=config,
    )
    return boto3.Session(botocore_session=session, region_name=region_name)

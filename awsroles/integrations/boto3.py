"""A boto3.Session whose credentials come from (and refresh through) awsroles, made with
boto3's own parameter names."""

from __future__ import annotations

from ..context import DEFAULT_CACHE, DEFAULT_LOCK_TIMEOUT
from ..errors import AwsRolesError, InvalidConfigError
from .botocore import install

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Optional, TextIO

    import boto3
    import botocore.session

    from ..config.files import SharedConfig
    from ..protocols import Clock, CredentialCache, Prompter, Transport

__all__ = ["boto3_session"]


def boto3_session(
    profile_name: Optional[str] = None,
    region_name: Optional[str] = None,
    *,
    profile: Optional[str] = None,
    aws_access_key_id: Optional[str] = None,
    aws_secret_access_key: Optional[str] = None,
    aws_session_token: Optional[str] = None,
    aws_account_id: Optional[str] = None,
    botocore_session: Optional[botocore.session.Session] = None,
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
    """``boto3.Session(...)`` with awsroles' chain installed (:func:`awsroles.install`).

    The parameters ``boto3.Session`` has mean what they mean there: ``profile_name``,
    ``region_name`` (the session's region), explicit keys (``aws_access_key_id``, ...,
    which win over every provider, as in boto3) and ``botocore_session``. ``profile`` is
    awsroles' name for ``profile_name``; giving both with different values is an error.
    The rest mean what they mean for ``awsroles.resolve()``: ``region`` is where STS calls
    go (by default the profile's and the environment's choice)."""
    try:
        import boto3
    except ImportError:  # pragma: no cover - depends on the install
        raise AwsRolesError(
            "boto3 is not installed.", hint="pip install 'awsroles[boto3]'"
        ) from None
    if profile is not None and profile_name is not None and profile != profile_name:
        raise InvalidConfigError(
            f"boto3_session() got profile_name={profile_name!r} and profile={profile!r}.",
            key="profile_name",
            hint="Pass one of them: profile_name is boto3's name, profile awsroles'.",
        )
    session = boto3.Session(
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        region_name=region_name,
        botocore_session=botocore_session,
        profile_name=profile_name if profile_name is not None else profile,
        **({"aws_account_id": aws_account_id} if aws_account_id is not None else {}),
    )
    install(
        session,
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
    return session

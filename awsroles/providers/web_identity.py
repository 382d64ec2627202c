"""Web identity federation: AssumeRoleWithWebIdentity with a token read from a file.

Configured by profile keys (``role_arn``, ``web_identity_token_file``, ``role_session_name``)
or by ``AWS_ROLE_ARN`` / ``AWS_WEB_IDENTITY_TOKEN_FILE`` / ``AWS_ROLE_SESSION_NAME``; each
setting separately, the environment first, as botocore does. The environment is not read when
the profile was named in code (botocore's rule) nor for source profiles. The call is
unsigned. The token file is read again at every STS call (:func:`assume_role`), since
Kubernetes rotates it; the resolver caches the result under botocore's key, as the AWS CLI
caches it.
"""

from __future__ import annotations

from .._files import read_small_file
from .._log import get_logger
from ..config.model import WebIdentitySource
from ..errors import CredentialRetrievalError, InvalidConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional

    from ..context import Context
    from ..sts.wire import StsResponse

log = get_logger("awsroles")

METHOD = "assume-role-with-web-identity"
_MAX_TOKEN_BYTES = 64 * 1024

__all__ = ["METHOD", "read_token", "assume_role", "env_web_identity"]


def read_token(path: str, profile: Optional[str]) -> str:
    """The token in ``path``; surrounding whitespace (a trailing newline) is dropped, since a
    JWT never contains any. Missing, unreadable, empty or huge files are typed errors."""
    where = {"profile": profile, "key": "web_identity_token_file"}
    try:
        data = read_small_file(path, _MAX_TOKEN_BYTES)
    except FileNotFoundError:
        raise CredentialRetrievalError(
            f"the web identity token file {path} does not exist.",
            provider=METHOD,
            hint="Check web_identity_token_file / AWS_WEB_IDENTITY_TOKEN_FILE (in Kubernetes, "
            "the service account token volume).",
            **where,
        ) from None
    except OSError as exc:
        raise CredentialRetrievalError(
            f"cannot read the web identity token file {path} ({exc.strerror}).",
            provider=METHOD,
            **where,
        ) from None
    if len(data) > _MAX_TOKEN_BYTES:
        raise CredentialRetrievalError(
            f"the web identity token file {path} is larger than {_MAX_TOKEN_BYTES} bytes.",
            provider=METHOD,
            **where,
        )
    try:
        token = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CredentialRetrievalError(
            f"the web identity token file {path} is not text.", provider=METHOD, **where
        ) from None
    if len(token) < 4:
        raise CredentialRetrievalError(
            f"the web identity token file {path} is empty.", provider=METHOD, **where
        )
    return token


def assume_role(ctx: Context, source: WebIdentitySource, session_name: str) -> StsResponse:
    """AssumeRoleWithWebIdentity with the token in ``source.token_file``, read now."""
    token = read_token(source.token_file, source.profile)
    response = ctx.sts_client().assume_role_with_web_identity(
        source.role_arn, session_name, token, source.duration_seconds
    )
    log.info("web identity: assumed %s", source.role_arn)
    return response


def _env(env: Mapping[str, str], name: str) -> Optional[str]:
    return env.get(name) if name in env else None


def env_web_identity(
    ctx: Context, profile_values: Mapping[str, str], profile: Optional[str]
) -> Optional[WebIdentitySource]:
    """The web identity settings of botocore's top-level provider: each of token file, role
    ARN and session name from the environment if present, else from the profile. None when
    no token file is configured, or the environment does not count (profile named in code)
    and the profile has no token file."""
    env = {} if ctx.settings.profile is not None else ctx.env
    token_file = _env(env, "AWS_WEB_IDENTITY_TOKEN_FILE")
    if token_file is None:
        token_file = profile_values.get("web_identity_token_file")
    if not token_file:
        return None
    role_arn = _env(env, "AWS_ROLE_ARN")
    if role_arn is None:
        role_arn = profile_values.get("role_arn")
    if not role_arn:
        raise InvalidConfigError(
            "a web identity token file is configured but no role ARN.",
            profile=profile,
            key="role_arn",
            hint="Set role_arn in the profile or AWS_ROLE_ARN in the environment.",
        )
    session = _env(env, "AWS_ROLE_SESSION_NAME")
    if session is None:
        session = profile_values.get("role_session_name")
    return WebIdentitySource(
        profile=profile or "(environment)",
        role_arn=role_arn,
        token_file=token_file,
        role_session_name=session or None,
    )

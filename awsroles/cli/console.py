"""``awsroles console``: a sign-in URL for the AWS console, made from the profile's role session.

AWS's federation endpoint turns temporary credentials into a console session in two steps
(IAM User Guide, "Enable custom identity broker access to the AWS console"; aws-vault's
``login`` and granted's ``console`` do the same)::

    GET <endpoint>?Action=getSigninToken[&SessionDuration=N]&Session=<JSON of the keys>
        -> {"SigninToken": "..."}
    <endpoint>?Action=login&Issuer=awsroles&Destination=<page>&SigninToken=<token>

The endpoint is the partition's (``signin.aws.amazon.com``, ``signin.amazonaws-us-gov.com``,
``signin.amazonaws.cn``), chosen by the region STS calls use, or ``AWSROLES_FEDERATION_URL``.
The endpoint signs in role sessions only: long-lived IAM user keys are refused here, before
anything is sent, rather than turned into a GetFederationToken session. ``SessionDuration``
(900-43200) is sent only when ``--duration`` is given; AWS takes it for AssumeRole*
credentials, which is all this command sends.

The secret key, session token and sign-in token appear in the request and in the one URL
printed on stdout (or handed to the browser), never in a message or a log record.
"""

from __future__ import annotations

import json
import random
import re
import sys
from urllib.parse import urlencode, urlsplit

from .._log import get_logger
from .._untrusted import json_loads
from ..errors import AwsRolesError, TransportError, safe_url
from ..transport.base import HttpRequest, default_user_agent
from ..transport.retry import Retry, full_jitter, with_retries
from .output import shown

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Mapping, Optional, Tuple

    from ..context import Context
    from ..credentials import Credentials

__all__ = ["ConsoleError", "FederationError", "FEDERATION_URL_VARIABLE", "run_console"]
__all__ += ["federation_endpoint", "default_destination", "login_url"]

log = get_logger("awsroles")

FEDERATION_URL_VARIABLE = "AWSROLES_FEDERATION_URL"
ISSUER = "awsroles"
MIN_DURATION, MAX_DURATION = 900, 43200
ATTEMPTS = 3
TIMEOUT = (5.0, 15.0)
MAX_BODY = 64 * 1024
#: partition -> (sign-in host, console host); other partitions have no public console.
PARTITIONS = {
    "aws": ("signin.aws.amazon.com", "console.aws.amazon.com"),
    "aws-us-gov": ("signin.amazonaws-us-gov.com", "console.amazonaws-us-gov.com"),
    "aws-cn": ("signin.amazonaws.cn", "console.amazonaws.cn"),
}
_REGION = re.compile(r"[a-z]+(-[a-z]+)+-\d+\Z")  # a real region, not aws-global


class ConsoleError(AwsRolesError):
    """The console sign-in URL cannot be made from these options or credentials."""


class FederationError(ConsoleError):
    """The federation endpoint did not give a sign-in token. ``status`` is its HTTP status
    (0: no answer); ``recoverable`` for connection failures, 5xx and 429."""

    def __init__(self, message: str, *, status: int = 0, **kw: Any) -> None:
        self.status = status
        self.recoverable = status == 0 or status >= 500 or status == 429
        super().__init__(message, **kw)


def _checked_url(value: str, what: str, example: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConsoleError(
            f"{what} is not a URL: {safe_url(value)!r}.", hint=f"Write a full URL, e.g. {example}"
        )
    return value


def _partition(region: Optional[str]) -> str:
    from ..config.endpoints import partition

    return partition(region)[0] if region else "aws"


def federation_endpoint(env: Mapping[str, str], region: Optional[str]) -> str:
    """``AWSROLES_FEDERATION_URL``, else the federation endpoint of ``region``'s partition."""
    override = (env.get(FEDERATION_URL_VARIABLE) or "").strip()
    if override:
        example = "https://signin.aws.amazon.com/federation"
        what = f"environment variable {FEDERATION_URL_VARIABLE}"
        url = _checked_url(override, what, example)
        parts = urlsplit(url)
        loopback = parts.hostname in ("localhost", "::1") or (parts.hostname or "").startswith(
            "127."
        )
        if parts.scheme.lower() != "https" and not loopback:
            # the getSigninToken request carries the role's keys in its query
            raise ConsoleError(
                f"{what} must be an https URL (or one on this machine): the request to it "
                f"carries the role's credentials; got {safe_url(url)!r}.",
                hint=f"Write it as {example.replace('signin.aws.amazon.com', 'HOST')}.",
            )
        return url
    name = _partition(region)
    if name not in PARTITIONS:
        raise ConsoleError(
            f"region {region} is in partition {name}, which has no known console sign-in endpoint.",
            hint=f"Set {FEDERATION_URL_VARIABLE} to its federation endpoint, and pass "
            "--destination.",
        )
    return f"https://{PARTITIONS[name][0]}/federation"


def default_destination(region: Optional[str]) -> str:
    """The console home of ``region`` (as aws-vault opens it), else the global console."""
    if not region:
        return "https://console.aws.amazon.com/"
    name = _partition(region)
    if name not in PARTITIONS:
        raise ConsoleError(
            f"there is no known console address in partition {name} (region {region}).",
            hint="Pass --destination URL.",
        )
    return f"https://{region}.{PARTITIONS[name][1]}/console/home?region={region}"


def _with_query(endpoint: str, pairs: List[Tuple[str, str]]) -> str:
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(pairs)


def login_url(endpoint: str, signin_token: str, destination: str) -> str:
    login = [("Action", "login"), ("Issuer", ISSUER), ("Destination", destination)]
    return _with_query(endpoint, login + [("SigninToken", signin_token)])


def _region(ctx: Context) -> Optional[str]:
    # The region STS calls use (code, AWS_DEFAULT_REGION, AWS_REGION, the profile's region):
    # one rule for every command.
    region = ctx.sts_client().endpoint.signing_region
    return region if region and _REGION.match(region) else None


def _signin_token(ctx: Context, endpoint: str, creds: Credentials, duration: Optional[int]) -> str:
    keys = (creds.access_key, creds.secret_key, creds.token or "")
    session = dict(zip(("sessionId", "sessionKey", "sessionToken"), keys))
    query = [("Action", "getSigninToken")]
    if duration is not None:
        query.append(("SessionDuration", str(duration)))
    query.append(("Session", json.dumps(session)))
    request = HttpRequest(
        "GET",
        _with_query(endpoint, query),
        headers={"Accept": "application/json", "User-Agent": default_user_agent()},
        timeout=TIMEOUT,
        max_body=MAX_BODY,
    )
    where = safe_url(endpoint)  # the request's own URL carries the keys in its query

    def attempt(number: int) -> str:
        try:
            response = ctx.services.transport(request)
        except TransportError as exc:
            message = f"could not get a sign-in token from the federation endpoint: {exc.message}"
            raise Retry(FederationError(message)) from None
        if response.status != 200:
            error = _status_error(response.status, where, duration)
            if error.recoverable:
                raise Retry(error)
            raise error
        try:
            token = json_loads(response.body).get("SigninToken")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise FederationError(
                f"the federation endpoint {where} answered getSigninToken without a "
                "SigninToken (response not shown).",
                status=200,
            )
        return token

    log.debug("console: getSigninToken at %s", where)
    return with_retries(
        attempt,
        attempts=ATTEMPTS,
        backoff=full_jitter(0.25, 2.0, random.random),
        sleep=ctx.clock.sleep,
    )


def _status_error(status: int, where: str, duration: Optional[int]) -> FederationError:
    hint = None
    if status in (400, 401, 403):
        hint = "It signs in unexpired role sessions only (not GetSessionToken sessions)."
        if duration is not None and duration > 3600:
            hint += " A role assumed with another role's keys (role chaining) allows 3600 at most."
    return FederationError(
        f"the federation endpoint {where} answered HTTP {status} to getSigninToken.",
        status=status,
        hint=hint,
    )


def _long_lived(ctx: Context, creds: Credentials) -> ConsoleError:
    from_env = creds.method == "env"
    source = "AWS_ACCESS_KEY_ID in the environment holds" if from_env else "it gives"
    return ConsoleError(
        f"the console needs a role session, but {source} long-lived IAM user keys "
        "(no session token), which AWS's federation endpoint does not sign in.",
        profile=None if from_env else ctx.profile_name,
        hint="Pass --profile naming a role profile (role_arn) or an SSO profile."
        if from_env
        else "Use a profile with role_arn and source_profile = this one, or an SSO profile.",
    )


def run_console(
    profile: Optional[str],
    mfa_token: Optional[str] = None,
    *,
    open_browser: bool = False,
    destination: Optional[str] = None,
    duration: Optional[int] = None,
) -> int:
    # Options are checked before anything resolves: no STS call or MFA code is wasted.
    if duration is not None and not MIN_DURATION <= duration <= MAX_DURATION:
        raise ConsoleError(
            f"--duration must be from {MIN_DURATION} to {MAX_DURATION} seconds (15 minutes "
            f"to 12 hours), got {duration}."
        )
    if destination is not None:
        _checked_url(destination, "--destination", "https://console.aws.amazon.com/s3/")
    from .resolve import resolve_for_command

    creds, ctx = resolve_for_command(profile, mfa_token=mfa_token)
    if creds.token is None:
        raise _long_lived(ctx, creds)
    region = _region(ctx)
    endpoint = federation_endpoint(ctx.env, region)
    page = destination or default_destination(region)
    url = login_url(endpoint, _signin_token(ctx, endpoint, creds, duration), page)
    if open_browser:
        import webbrowser

        try:
            opened = webbrowser.open(url, new=2)
        except (webbrowser.Error, OSError):
            opened = False
        if opened:
            print("awsroles: asked your browser to open the AWS console.", file=sys.stderr)
            return 0
        print("awsroles: no browser could be opened; the sign-in URL follows.", file=sys.stderr)
    print(shown(url))
    return 0

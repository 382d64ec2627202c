"""The three STS calls awsroles makes: AssumeRole, AssumeRoleWithWebIdentity, GetCallerIdentity.

Requests are the form bodies botocore's query serializer sends, signed with SigV4 by
:mod:`awsroles.sts.sigv4` (botocore's ``SigV4Auth``, byte for byte, without importing botocore).
Responses become dicts shaped exactly like botocore's parsed response, which is also the AWS
CLI cache file content. Retries: throttling, 5xx and connection errors, with botocore's
standard-mode backoff (full jitter) through the injected clock.

No secret (secret key, session token, MFA code, web identity token) reaches a log record, a
repr, or an exception message; STS's own error text is scrubbed of them too.
"""

from __future__ import annotations

import random
from urllib.parse import urlencode, urlsplit

from .._log import get_logger
from ..clock import SYSTEM_CLOCK
from ..errors import (
    AccessDeniedError,
    ExpiredTokenError,
    InvalidConfigError,
    RegionDisabledError,
    STSError,
    STSServiceError,
    ThrottlingError,
    TransportError,
)
from ..transport import default_transport
from ..transport.base import HttpRequest, default_user_agent
from ..transport.retry import Retry, full_jitter, with_retries
from .params import AssumeRoleParams
from .sigv4 import sign
from .wire import (
    StsResponse,
    account_from_arn,
    credentials_from_response,
    parse_error,
    parse_expiration,
    parse_result,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

    from ..credentials import Credentials
    from ..protocols import Clock, Transport
    from ..transport.base import HttpResponse, Timeout
    from .endpoint import StsEndpoint

__all__ = [
    "AssumeRoleParams",
    "StsClient",
    "StsResponse",
    "credentials_from_response",
    "parse_expiration",
]

log = get_logger("awsroles.sts.client")

API_VERSION = "2011-06-15"
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
THROTTLING_CODES = frozenset(
    (
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "IDPCommunicationError",
    )
)
TRANSIENT_CODES = frozenset(
    ("RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete")
)
_MAX_BACKOFF = 20.0


def _form(action: str, kwargs: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """Flatten kwargs the way botocore's QuerySerializer does (lists as ``X.member.N``)."""
    pairs = [("Action", action), ("Version", API_VERSION)]
    for key, value in kwargs.items():
        if isinstance(value, list):
            for i, item in enumerate(value, 1):
                if isinstance(item, dict):
                    pairs.extend((f"{key}.member.{i}.{k}", str(v)) for k, v in item.items())
                else:
                    pairs.append((f"{key}.member.{i}", str(item)))
        else:
            pairs.append((key, str(value)))
    return pairs


# --- the client -----------------------------------------------------------------------------


def _scrub(text: Optional[str], secrets: Sequence[Optional[str]]) -> Optional[str]:
    if not text:
        return text
    for secret in secrets:
        if not secret:
            continue
        for s in sorted({secret, secret.strip()}, key=len, reverse=True):
            if len(s) >= 4:
                text = text.replace(s, "****")
    return text


_HINTS = {
    "AccessDenied": "Check the role's trust policy, the external_id and the MFA code.",
    "IDPRejectedClaim": "Check the role's trust policy conditions (audience, subject).",
    "InvalidClientTokenId": "The source access key is not valid: check the source credentials.",
    "SignatureDoesNotMatch": "The source secret key is wrong: check the source credentials.",
    "RegionDisabledException": "Activate STS for this region in the IAM console (Account "
    "settings) or use another region.",
    "InvalidIdentityToken": "Check the web identity token file and the OIDC provider.",
}


def _clock_off(code: str, message: str) -> bool:
    """STS refuses a request signed too far from its own time as "Signature expired" (or
    "not yet current"), under a code that otherwise means a wrong key."""
    text = message.lower()
    return code in ("SignatureDoesNotMatch", "RequestExpired", "InvalidSignatureException") and (
        "signature expired" in text or "not yet current" in text or code == "RequestExpired"
    )


class StsClient:
    """Makes STS calls at one endpoint. Thread-safe: it keeps no per-call state."""

    def __init__(
        self,
        endpoint: StsEndpoint,
        *,
        transport: Optional[Transport] = None,
        clock: Clock = SYSTEM_CLOCK,
        max_attempts: int = 3,
        user_agent: Optional[str] = None,
        timeout: Timeout = (5.0, 30.0),
        rng: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.endpoint = endpoint
        self._transport = transport
        self._clock = clock
        self.max_attempts = max_attempts
        self._user_agent = user_agent
        self._timeout = timeout
        self._rng = rng
        path = urlsplit(endpoint.url).path
        self._url = endpoint.url if path else endpoint.url + "/"

    def __repr__(self) -> str:
        return f"StsClient(url={self._url!r}, signing_region={self.endpoint.signing_region!r})"

    # -- public calls ----------------------------------------------------------------------

    def assume_role(self, source: Credentials, params: AssumeRoleParams) -> StsResponse:
        form = _form("AssumeRole", params.api_kwargs(include_token_code=True))
        secrets = (source.secret_key, source.token, params.token_code)
        data = self._call("AssumeRole", form, source, params.role_arn, secrets)
        return StsResponse(data, "AssumeRole")

    def assume_role_with_web_identity(
        self,
        role_arn: str,
        session_name: str,
        token: str,
        duration_seconds: Optional[int] = None,
    ) -> StsResponse:
        kw: Dict[str, Any] = {
            "RoleSessionName": session_name,
            "RoleArn": role_arn,
            "WebIdentityToken": token,
        }
        if duration_seconds is not None:
            kw["DurationSeconds"] = int(duration_seconds)
        form = _form("AssumeRoleWithWebIdentity", kw)
        data = self._call("AssumeRoleWithWebIdentity", form, None, role_arn, (token,))
        return StsResponse(data, "AssumeRoleWithWebIdentity")

    def get_session_token(
        self,
        source: Credentials,
        serial_number: str,
        token_code: str,
        duration_seconds: Optional[int] = None,
    ) -> StsResponse:
        """An MFA session: temporary credentials for ``source`` (long-lived IAM user keys)
        that carry the MFA context, so roles requiring MFA take them without a code."""
        kw: Dict[str, Any] = {}
        if duration_seconds is not None:
            kw["DurationSeconds"] = int(duration_seconds)
        kw["SerialNumber"] = serial_number
        kw["TokenCode"] = token_code
        form = _form("GetSessionToken", kw)
        secrets = (source.secret_key, source.token, token_code)
        data = self._call("GetSessionToken", form, source, None, secrets)
        return StsResponse(data, "GetSessionToken")

    def get_caller_identity(self, creds: Credentials) -> Dict[str, str]:
        form = _form("GetCallerIdentity", {})
        data = self._call("GetCallerIdentity", form, creds, None, (creds.secret_key, creds.token))
        return {k: data[k] for k in ("UserId", "Account", "Arn") if k in data}

    # -- machinery -------------------------------------------------------------------------

    def _request(
        self, body: bytes, creds: Optional[Credentials], region: Optional[str]
    ) -> HttpRequest:
        headers = {"Content-Type": CONTENT_TYPE}
        if creds is not None and region is not None:
            headers = sign(
                "POST",
                self._url,
                headers,
                body,
                access_key=creds.access_key,
                secret_key=creds.secret_key,
                token=creds.token,
                region=region,
                service="sts",
                now=self._clock.now(),
            )
        headers["User-Agent"] = self._user_agent or default_user_agent()
        return HttpRequest("POST", self._url, headers=headers, body=body, timeout=self._timeout)

    def _call(
        self,
        op: str,
        form: List[Tuple[str, str]],
        creds: Optional[Credentials],
        role_arn: Optional[str],
        secrets: Sequence[Optional[str]],
    ) -> Dict[str, Any]:
        region = self.endpoint.signing_region
        if creds is not None and not region:
            raise InvalidConfigError(
                f"{op} to {self.endpoint.url} (from {self.endpoint.source}) must be signed for "
                f"a region, and no region is configured.",
                key="region",
                hint="Set region in the profile, or AWS_DEFAULT_REGION.",
            )
        body = urlencode(form).encode("ascii")
        transport = self._transport or default_transport()
        target = f"{op} {role_arn}" if role_arn else op
        n = self.max_attempts

        def attempt(number: int) -> Dict[str, Any]:
            log.debug("STS %s at %s (attempt %d of %d)", target, self._url, number, n)
            try:
                response = transport(self._request(body, creds, region))
            except TransportError as exc:
                log.debug("STS %s: no response (%s)", target, type(exc).__name__)
                raise Retry(exc) from None
            if response.status == 200:
                return self._success(op, response, number - 1)
            error = self._error(op, response, role_arn, secrets)
            log.debug("STS %s: HTTP %d %s", target, response.status, error.code)
            throttled = error.code in THROTTLING_CODES
            if throttled or response.status >= 500 or error.code in TRANSIENT_CODES:
                raise Retry(error, throttled=throttled)
            raise error

        return with_retries(
            attempt,
            attempts=n,
            backoff=full_jitter(0.05, _MAX_BACKOFF, self._rng, throttled_base=1.0),
            sleep=self._clock.sleep,
            give_up=lambda failure, made: self._exhausted(op, target, role_arn, failure.error),
        )

    def _exhausted(
        self, op: str, target: str, role_arn: Optional[str], last: BaseException
    ) -> Exception:
        n = self.max_attempts
        tries = f"{n} attempts" if n > 1 else "1 attempt"
        if isinstance(last, TransportError):
            return TransportError(
                f"{target}: {last.message} (gave up after {tries})",
                url=last.url,
                timeout=last.timeout,
            )
        assert isinstance(last, STSError)
        kind = ThrottlingError if last.code in THROTTLING_CODES else STSServiceError
        what = "throttling the call" if kind is ThrottlingError else "failing"
        detail = (last.sts_message or "").rstrip(". ") or f"HTTP {last.status}"
        return kind(
            f"{target}: STS kept {what} ({last.code}) after {tries}: {detail}.",
            code=last.code,
            sts_message=last.sts_message,
            status=last.status,
            role_arn=role_arn,
            operation=op,
            hint="Retry later.",
        )

    def _success(self, op: str, response: HttpResponse, retries: int) -> Dict[str, Any]:
        data, meta = parse_result(op, response.body)
        if op != "GetCallerIdentity":
            account = account_from_arn(data.get("AssumedRoleUser", {}).get("Arn"))
            if account is not None:
                data["Credentials"]["AccountId"] = account
        metadata: Dict[str, Any] = dict(meta)
        metadata["HTTPStatusCode"] = response.status
        metadata["HTTPHeaders"] = {k.lower(): v for k, v in response.headers.items()}
        metadata["RetryAttempts"] = retries
        data["ResponseMetadata"] = metadata
        return data

    def _error(
        self,
        op: str,
        response: HttpResponse,
        role_arn: Optional[str],
        secrets: Sequence[Optional[str]],
    ) -> STSError:
        code, message, _type, request_id = parse_error(response.body)
        message = _scrub(message, secrets) or ""
        code = code or f"HTTP{response.status}"
        target = f"{op} {role_arn}" if role_arn else op
        detail = message.rstrip(". ") or f"HTTP {response.status}"
        kw: Dict[str, Any] = dict(
            code=code,
            sts_message=message,
            status=response.status,
            role_arn=role_arn,
            operation=op,
            hint=_HINTS.get(code),
        )
        if _clock_off(code, message):
            kw["hint"] = (
                "This machine's clock is more than 5 minutes off: set it right (turn on time "
                "synchronisation, e.g. NTP) and try again."
            )
        if code in ("AccessDenied", "IDPRejectedClaim"):
            if op == "AssumeRoleWithWebIdentity" and code == "AccessDenied":
                kw["hint"] = "Check the role's trust policy for the web identity provider."
            if op == "GetSessionToken":
                kw["hint"] = (
                    "Check the MFA code and that mfa_serial is this user's device; an MFA "
                    "session is made with long-lived IAM user keys only."
                )
            return AccessDeniedError(f"{target} was denied ({code}): {detail}.", **kw)
        if code in ("ExpiredToken", "ExpiredTokenException"):
            what = (
                "the web identity token has expired"
                if op == "AssumeRoleWithWebIdentity"
                else "the source credentials have expired"
            )
            kw["hint"] = (
                "Refresh the token file."
                if op == "AssumeRoleWithWebIdentity"
                else "Refresh the source credentials and try again."
            )
            return ExpiredTokenError(f"{target} failed: {what} ({code}): {detail}.", **kw)
        if code == "RegionDisabledException":
            region = self.endpoint.signing_region
            return RegionDisabledError(
                f"{target} failed: STS is not activated in region {region} ({code}): {detail}.",
                **kw,
            )
        suffix = f" (request id {request_id})" if request_id else ""
        return STSError(f"{target} failed ({code}): {detail}{suffix}.", **kw)

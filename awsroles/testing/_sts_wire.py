"""STS's wire format as :class:`~awsroles.testing.fake_sts.FakeSTS` speaks it: real error
codes and messages, the request checks that produce them, the XML, and the SigV4 check (by
``botocore.auth``, the reference the client's signer is held to)."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple
from xml.sax.saxutils import escape

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
    r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$"
)

ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)\Z")
_SESSION = re.compile(r"^[\w+=,.@-]{2,64}\Z")


class _StsError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


_VALIDATION = "1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
_SIG = "The request signature we calculated does not match the signature you provided. "
_MAX = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
# Real STS error codes and messages, by short name.
# fmt: off
_ERRORS = {
    "invalid": (400, "ValidationError", _VALIDATION + "constraint: {constraint}"),
    "arn": (400, "ValidationError", "{value} is invalid"),
    "number": (400, "MalformedInput", "{value} is not a number"),
    "action": (400, "InvalidAction", "Could not find operation {value} for version {version}"),
    "too_large": (413, "RequestEntityTooLarge", "Request body is too large"),
    "no_auth": (403, "MissingAuthenticationToken", "Request is missing Authentication Token"),
    "bad_auth": (400, "IncompleteSignature", "Authorization header requires 'Credential', "
                 "'SignedHeaders' and 'Signature' parameters."),
    "bad_key": (403, "InvalidClientTokenId",
                "The security token included in the request is invalid."),
    "expired": (400, "ExpiredToken", "The security token included in the request is expired"),
    "service": (403, "SignatureDoesNotMatch",
                "Credential should be scoped to correct service: 'sts'. "),
    "date": (403, "SignatureDoesNotMatch", "Date in Credential scope does not match YYYYMMDD "
             "from ISO-8601 version of date from HTTP"),
    "signature": (403, "SignatureDoesNotMatch", _SIG + "Check your AWS Secret Access Key and "
                  "signing method. Consult the service documentation for details."),
    "denied": (403, "AccessDenied", "User: {value} is not authorized to perform: "
               "sts:AssumeRole on resource: {role}"),
    "mfa": (403, "AccessDenied",
            "MultiFactorAuthentication failed with invalid MFA one time pass code. "),
    "chaining": (400, "ValidationError", "The requested DurationSeconds exceeds the 1 hour "
                 "session limit for roles assumed by role chaining."),
    "max": (400, "ValidationError", _MAX),
    "jwt": (400, "InvalidIdentityToken", "The ID Token provided is not a valid JWT. (You may "
            "see this error if you sent an Access Token)"),
    "web_denied": (403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"),
    "session_creds": (403, "AccessDenied", "Cannot call GetSessionToken with session credentials"),
    "mfa_both": (403, "AccessDenied", "MultiFactorAuthentication failed, must provide both MFA "
                 "serial number and one time pass code."),
}
# fmt: on


def _fail(name: str, **fmt: Any) -> _StsError:
    status, code, template = _ERRORS[name]
    return _StsError(status, code, template.format(**fmt))


def _validation(value: Any, field: str, constraint: str) -> _StsError:
    return _fail("invalid", value=value, field=field, constraint=constraint)


def _error_xml(code: str, message: str, request_id: str, kind: str = "Sender") -> str:
    return (
        f'<ErrorResponse xmlns="{NS}">\n  <Error>\n    <Type>{kind}</Type>\n'
        f"    <Code>{escape(code)}</Code>\n    <Message>{escape(message)}</Message>\n"
        f"  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n"
    )


def _ok_xml(action: str, inner: str, request_id: str) -> str:
    return (
        f'<{action}Response xmlns="{NS}">\n  <{action}Result>\n{inner}  </{action}Result>\n'
        f"  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n"
        f"  </ResponseMetadata>\n</{action}Response>\n"
    )


def check_common(params: Dict[str, str]) -> Tuple[str, str, int]:
    """(RoleArn, RoleSessionName, DurationSeconds) of an AssumeRole* request, or the
    _StsError real STS answers with."""
    role_arn, session = params.get("RoleArn"), params.get("RoleSessionName")
    if role_arn is None:
        raise _validation("null", "roleArn", "Member must not be null")
    if session is None:
        raise _validation("null", "roleSessionName", "Member must not be null")
    if not ROLE_ARN.match(role_arn):
        raise _fail("arn", value=role_arn)
    if not _SESSION.match(session):
        raise _validation(
            session,
            "roleSessionName",
            "Member must satisfy regular expression pattern: [\\w+=,.@-]* and length 2 to 64",
        )
    return role_arn, session, _duration(params, default=3600, most=43200)


def _duration(params: Dict[str, str], *, default: int, most: int) -> int:
    """DurationSeconds as STS checks it: a whole number from 900 to ``most``."""
    raw = params.get("DurationSeconds", str(default))
    try:
        duration = int(raw)
    except ValueError:
        raise _fail("number", value=raw) from None
    if duration < 900:
        raise _validation(
            duration, "durationSeconds", "Member must have value greater than or equal to 900"
        )
    if duration > most:
        raise _validation(
            duration, "durationSeconds", f"Member must have value less than or equal to {most}"
        )
    return duration


def check_token_code(code: Optional[str]) -> Optional[str]:
    """``TokenCode`` as STS checks it: absent, or six digits."""
    if code is not None and not re.match(r"^[0-9]{6}\Z", code):
        raise _validation(
            code,
            "tokenCode",
            "Member must have length 6 and satisfy regular expression pattern: [\\d]*",
        )
    return code


def issued_xml(p: Any, expires: Any) -> str:
    """``AssumedRoleUser`` and ``Credentials`` of an issued principal (its ``user_id``,
    ``arn``, keys and token), expiring at the datetime ``expires``."""
    return (
        f"    <AssumedRoleUser>\n      <AssumedRoleId>{escape(p.user_id)}</AssumedRoleId>\n"
        f"      <Arn>{escape(p.arn)}</Arn>\n    </AssumedRoleUser>\n"
    ) + session_xml(p, expires)


def assume_role_xml(issued: str, params: Dict[str, str]) -> str:
    """An AssumeRole result around ``issued`` (:func:`issued_xml`): SourceIdentity when
    asked for, PackedPolicySize when a policy or tags were passed."""
    source_identity = params.get("SourceIdentity")
    if source_identity:
        issued = f"    <SourceIdentity>{escape(source_identity)}</SourceIdentity>\n" + issued
    if any(k == "Policy" or k.startswith(("PolicyArns.", "Tags.")) for k in params):
        issued += "    <PackedPolicySize>6</PackedPolicySize>\n"
    return issued


def web_identity_xml(issued: str, subject: str, audience: str, provider: str) -> str:
    return (
        f"    <SubjectFromWebIdentityToken>{escape(subject)}"
        f"</SubjectFromWebIdentityToken>\n    <Audience>{escape(audience)}</Audience>\n"
        f"{issued}    <Provider>{escape(provider)}</Provider>\n"
    )


def caller_xml(caller: Any) -> str:
    """A GetCallerIdentity result for a principal (``arn``, ``user_id``, ``account``)."""
    return (
        f"    <Arn>{escape(caller.arn)}</Arn>\n    <UserId>{caller.user_id}"
        f"</UserId>\n    <Account>{caller.account}</Account>\n"
    )


def _signature_ok(
    h: Any,
    body: bytes,
    principal: Any,
    region: str,
    signed: List[str],
    amz_date: str,
    signature: str,
) -> bool:
    """Recompute the SigV4 signature with botocore.auth over exactly the signed headers."""
    import hmac

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.compat import HTTPHeaders
    from botocore.credentials import Credentials as BotoCredentials

    values = {name: h.headers.get(name, "") for name in signed}

    class Verifier(SigV4Auth):
        def headers_to_sign(self, request: Any) -> Any:
            out = HTTPHeaders()
            for name in signed:
                out[name] = values[name]
            return out

    url = f"http://{values.get('host') or h.headers.get('Host', '')}{h.path}"
    request = AWSRequest(method=h.command, url=url, data=body, headers=dict(values))
    request.context["timestamp"] = amz_date
    verifier = Verifier(
        BotoCredentials(principal.access_key, principal.secret_key, principal.token), "sts", region
    )
    canonical = verifier.canonical_request(request)
    expected = verifier.signature(verifier.string_to_sign(request, canonical), request)
    return hmac.compare_digest(expected, signature)


def check_session_duration(params: Dict[str, str]) -> int:
    """GetSessionToken's DurationSeconds as STS checks it (an IAM user: 900 to 129600,
    43200 when absent)."""
    return _duration(params, default=43200, most=129600)


def session_xml(p: Any, expires: Any) -> str:
    """The ``Credentials`` of an issued principal (all a GetSessionToken result holds)."""
    return (
        f"    <Credentials>\n      <AccessKeyId>{p.access_key}</AccessKeyId>\n"
        f"      <SecretAccessKey>{p.secret_key}</SecretAccessKey>\n"
        f"      <SessionToken>{p.token}</SessionToken>\n"
        f"      <Expiration>{expires.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>\n"
        f"    </Credentials>\n"
    )

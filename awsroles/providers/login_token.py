"""The session ``aws login`` keeps in ``~/.aws/login/cache``, and the DPoP proof that goes
with its refresh.

* File: ``<dir>/<sha256 hex of the login_session value>.json``; ``<dir>`` is
  ``AWS_LOGIN_CACHE_DIRECTORY`` (``~`` and ``$VARS`` expanded) or ``~/.aws/login/cache``
  (botocore's ``get_login_token_cache_directory`` and ``generate_login_cache_key``).
* Content (what the AWS CLI writes)::

    {"accessToken": {"accessKeyId", "secretAccessKey", "sessionToken", "accountId",
                     "expiresAt": "2030-01-01T00:15:00Z"},
     "clientId": "arn:aws:signin:::devtools/same-device", "refreshToken": "...",
     "idToken": "...", "dpopKey": "-----BEGIN EC PRIVATE KEY-----\\n..."}

  ``accessToken`` (the AWS credentials), ``refreshToken``, ``dpopKey`` and ``clientId`` are
  required, as botocore's ``LoginCredentialFetcher`` requires them; other fields are kept as
  they are when the file is written back.
* Endpoint: the sign-in service's ``/v1/token`` for the region (:func:`signin_endpoint`,
  the ``signin`` endpoint rules as botocore's client applies them), or a configured one.
* DPoP (RFC 9449): each token request carries a JWT signed with ``dpopKey`` (ES256, a P-256
  key), whose header holds the public key as a JWK and whose claims say which request it is
  for (``htm``, ``htu``), when (``iat``) and a unique ``jti``; the byte layout is botocore's
  ``_build_dpop_header``. The signing needs ``cryptography`` (the ``awsroles[login]`` extra),
  imported only here and only when a login session is used.

No access token, refresh token, DPoP key or proof ever appears in a log record, an exception
or a repr: errors name the file and the field, never a value.
"""

from __future__ import annotations

import json
import os
import re

from .._files import NotARegularFile, atomic_write, make_private_dirs, read_small_file
from .._untrusted import json_loads
from ..credentials import Credentials, first_unusable
from ..errors import InvalidConfigError, ServiceError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any, Dict, Mapping, Tuple

    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

    from ..context import Context

__all__ = [
    "METHOD",
    "REQUIRED_FIELDS",
    "LoginError",
    "LoginTokenError",
    "LoginRefreshRequired",
    "LoginDependencyError",
    "login_cache_dir",
    "login_cache_key",
    "login_token_path",
    "login_hint",
    "signin_endpoint",
    "TOKEN_PATH",
    "require_cryptography",
    "read_login_token",
    "write_login_token",
    "load_dpop_key",
    "dpop_proof",
]

#: botocore's ``LoginProvider.METHOD``.
METHOD = "login"
#: The fields botocore's fetcher refuses to do without.
REQUIRED_FIELDS = ("accessToken", "refreshToken", "dpopKey", "clientId")
_CREDENTIAL_FIELDS = ("accessKeyId", "secretAccessKey", "sessionToken")
_MAX_BYTES = 256 * 1024
INSTALL_HINT = "pip install 'awsroles[login]'"


class LoginError(ServiceError):
    """A ``login_session`` profile could not supply credentials. ``status`` and ``code`` are
    the sign-in service's when it answered (``code`` is its OAuth error, ``TOKEN_EXPIRED``,
    ``INSUFFICIENT_PERMISSIONS``, ...); ``recoverable`` when trying later may work."""

    PROVIDER = METHOD


class LoginTokenError(LoginError):
    """The cache file is missing, unreadable or incomplete: ``aws login`` must run again."""


class LoginRefreshRequired(LoginError):
    """The sign-in service refused the refresh token (expired, revoked, or the credentials
    behind the session changed): ``aws login`` must run again."""


class LoginDependencyError(LoginError):
    """``cryptography``, which signs the DPoP proofs, is not installed."""


# --- where the session lives ----------------------------------------------------------------


def login_cache_dir(env: Mapping[str, str]) -> str:
    """``AWS_LOGIN_CACHE_DIRECTORY`` expanded as botocore expands it (an empty value counts as
    unset: botocore would read the current directory), else ``~/.aws/login/cache``."""
    from ..config.paths import expand_path, expanduser_home

    home = expanduser_home(env)
    override = env.get("AWS_LOGIN_CACHE_DIRECTORY")
    if override:
        return expand_path(override, env, home=home)
    return os.path.join(home, ".aws", "login", "cache")


def login_cache_key(session: str) -> str:
    """botocore's ``generate_login_cache_key``: the SHA-256 of the login_session value."""
    import hashlib

    return hashlib.sha256(session.encode("utf-8")).hexdigest()


def login_token_path(env: Mapping[str, str], session: str) -> str:
    return os.path.join(login_cache_dir(env), login_cache_key(session) + ".json")


def login_hint(profile: str) -> str:
    return f"Run `aws login --profile {profile}` and try again."


def require_cryptography(profile: str) -> None:
    """LoginDependencyError naming the profile and key when ``cryptography`` is missing (its
    EC signing is what a refresh needs; checked before anything is read, as botocore checks
    for its own EC support)."""
    import importlib.util

    # find_spec, not an import: a valid cached session is served without loading it
    try:
        found = importlib.util.find_spec("cryptography") is not None
    except (ImportError, ValueError):  # a module set to None, or one without a spec
        found = False
    if not found:
        raise LoginDependencyError(
            "signing the DPoP proofs of an `aws login` session needs the cryptography package, "
            "which is not installed.",
            profile=profile,
            key="login_session",
            hint=f"Install it with: {INSTALL_HINT}",
        )


# --- where a refresh goes -------------------------------------------------------------------

TOKEN_PATH = "/v1/token"
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?")

#: The sign-in host of each partition (the ``signin`` endpoint rules, neither FIPS nor
#: dual-stack); a partition not listed gets ``signin.<dns suffix>``, as the rules' fallback.
_HOSTS = {
    "aws": "signin.aws.amazon.com",
    "aws-cn": "signin.amazonaws.cn",
    "aws-us-gov": "signin.amazonaws-us-gov.com",
    "aws-iso": "signin.c2shome.ic.gov",
    "aws-iso-b": "signin.sc2shome.sgov.gov",
    "aws-iso-f": "signin.csphome.hci.ic.gov",
    "aws-iso-e": "signin.csphome.adc-e.uk",
    "aws-eusc": "signin.amazonaws-eusc.eu",
}


def _region(ctx: Context) -> Tuple[str, str]:
    """``(region, where it came from)``: the order STS calls use (code, AWS_DEFAULT_REGION,
    AWS_REGION, the selected profile's ``region``), as botocore's signin client takes the
    session's region (AWS_REGION being awsroles' fallback there too); never a source
    profile's. InvalidConfigError when there is none (botocore: NoRegionError)."""
    from ..config.endpoints import setting

    profile = ctx.selected_profile_values()
    for value, where in (
        (ctx.settings.region, "region passed in code"),
        (setting(ctx.env, "AWS_DEFAULT_REGION"), "environment variable AWS_DEFAULT_REGION"),
        (setting(ctx.env, "AWS_REGION"), "environment variable AWS_REGION"),
        (setting(profile, "region"), f"profile '{ctx.profile_name}' region"),
    ):
        if value:
            if not _REGION.fullmatch(value.strip()):
                raise InvalidConfigError(
                    f"{where} is not a region name: {value!r}.",
                    hint="Write a region such as us-east-1.",
                )
            return value.strip(), where
    raise InvalidConfigError(
        "refreshing an `aws login` session needs a region for the sign-in service, and none "
        "is configured.",
        profile=ctx.profile_name,
        key="region",
        hint="Add region = <region> to the profile, or set AWS_REGION.",
    )


def signin_endpoint(ctx: Context) -> Tuple[str, str]:
    """``(base URL, where it came from)`` of the sign-in service for this resolution: the
    configured endpoint, else the ``signin`` endpoint rules for the region (as botocore's
    client chooses it for CreateOAuth2Token). InvalidConfigError without a region."""
    from ..config.endpoints import configured_endpoint, flag, partition

    env = ctx.env
    profile = ctx.selected_profile_values()
    name = ctx.profile_name
    found = configured_endpoint(
        "signin", profile=profile, env=env, services=ctx.config.services, profile_name=name
    )
    if found is not None:
        return found
    region, where = _region(ctx)
    fips = flag(env, "AWS_USE_FIPS_ENDPOINT", profile, "use_fips_endpoint", name)
    dual = flag(env, "AWS_USE_DUALSTACK_ENDPOINT", profile, "use_dualstack_endpoint", name)
    part, dns, dual_dns = partition(region)
    rules = f"endpoint rules ({where})"
    if not fips and not dual:
        return f"https://{region}.{_HOSTS.get(part, 'signin.' + dns)}", rules
    if fips and not dual and part == "aws-us-gov":
        if region == "us-gov-west-1":
            return "https://signin-fips.amazonaws-us-gov.com", rules
        return f"https://{region}.signin-fips.amazonaws-us-gov.com", rules
    host = "signin-fips" if fips else "signin"
    return f"https://{host}.{region}.{dual_dns if dual else dns}", rules


# --- reading and writing --------------------------------------------------------------------


def read_login_token(
    path: str, *, profile: str, session: str
) -> Tuple[Dict[str, Any], Credentials]:
    """The document at ``path`` and the credentials it holds (method ``login``). Raises
    :class:`LoginTokenError` with the ``aws login`` hint when it is missing or unusable,
    naming the file and the field, never quoting a value."""
    hint = login_hint(profile)
    where: Dict[str, Any] = {"profile": profile, "hint": hint}
    try:  # a FIFO planted at the path is refused, never waited on
        raw = read_small_file(path, _MAX_BYTES)
    except FileNotFoundError:
        raise LoginTokenError(
            f"no cached session for login_session {session} (looked for {path}): you are "
            "not logged in.",
            **where,
        ) from None
    except NotARegularFile:
        raise LoginTokenError(
            f"the login cache path {path} is not a regular file.", **where
        ) from None
    except OSError as exc:
        raise LoginTokenError(
            f"cannot read the login cache file {path} ({exc.strerror}).", **where
        ) from None
    bad = LoginTokenError(
        f"the login cache file {path} is not a session the AWS CLI wrote (content not shown).",
        **where,
    )
    if len(raw) > _MAX_BYTES:
        raise bad
    try:
        doc = json_loads(raw.decode("utf-8-sig"))
    except ValueError:
        raise bad from None
    if not isinstance(doc, dict):
        raise bad
    missing = [k for k in REQUIRED_FIELDS if k not in doc]
    if missing:
        raise LoginTokenError(
            f"the login cache file {path} lacks required fields: {', '.join(missing)}.", **where
        )
    for name in ("refreshToken", "dpopKey", "clientId"):
        if not isinstance(doc[name], str) or not doc[name]:
            raise LoginTokenError(
                f"{name} in the login cache file {path} is not a string.", **where
            )
    return doc, credentials_of_token(doc["accessToken"], path, where)


def credentials_of_token(token: object, path: str, where: Dict[str, Any]) -> Credentials:
    """The AWS credentials of a session file's ``accessToken`` (LoginTokenError, naming the
    file and field, when they are not usable)."""
    from ..timestamps import parse_timestamp

    if not isinstance(token, dict):
        raise LoginTokenError(
            f"accessToken in the login cache file {path} is not an object.", **where
        )
    values = [token.get(k) for k in _CREDENTIAL_FIELDS]
    lacking = [k for k, v in zip(_CREDENTIAL_FIELDS, values) if not isinstance(v, str) or not v]
    if lacking:
        raise LoginTokenError(
            f"accessToken in the login cache file {path} lacks {', '.join(lacking)}.", **where
        )
    account = token.get("accountId")
    if account is not None and not isinstance(account, str):
        raise LoginTokenError(
            f"accessToken.accountId in the login cache file {path} is not a string.", **where
        )
    why = first_unusable(dict(zip(_CREDENTIAL_FIELDS, values)))
    if why is not None:  # they go into headers and environments: refuse them here
        raise LoginTokenError(f"in the login cache file {path}, {why} (not shown).", **where)
    try:
        expiry: datetime = parse_timestamp(token.get("expiresAt"))
    except ValueError:
        raise LoginTokenError(
            f"accessToken.expiresAt in the login cache file {path} is not a time.", **where
        ) from None
    access, secret, session_token = values
    assert isinstance(access, str) and isinstance(secret, str) and isinstance(session_token, str)
    return Credentials(
        access, secret, session_token, expiry=expiry, account_id=account or None, method=METHOD
    )


def write_login_token(path: str, doc: Mapping[str, Any]) -> None:
    """Replace ``path`` with ``doc`` atomically, 0600 from creation, as botocore's
    ``JSONFileCache`` serialises it (``json.dumps`` defaults). OSError on failure."""
    make_private_dirs(os.path.dirname(path))
    atomic_write(path, json.dumps(doc).encode("utf-8"))


# --- DPoP -----------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_dpop_key(pem: str, *, path: str, profile: str) -> EllipticCurvePrivateKey:
    """The P-256 private key of ``dpopKey``. Like botocore, the PEM armour lines are dropped
    and the rest read as base64 DER (SEC1 ``EC PRIVATE KEY`` or PKCS#8)."""
    import base64
    import binascii

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    body = "".join(
        line for line in pem.splitlines() if not line.startswith(("-----BEGIN", "-----END"))
    ).strip()
    try:
        key = load_der_private_key(base64.b64decode(body), password=None)
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
        key = None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise LoginTokenError(
            f"dpopKey in the login cache file {path} is not a P-256 private key (not shown).",
            profile=profile,
            hint=login_hint(profile),
        )
    return key


def dpop_proof(key: EllipticCurvePrivateKey, url: str, *, issued_at: int, jti: str) -> str:
    """The ``DPoP`` header for a POST to ``url``: ``header.claims.signature``, each part
    base64url without padding, the JSON compact, the ES256 signature as the 64 bytes r || s
    (RFC 7518), the public key in the header as a JWK. ``htu`` is the URL without query and
    fragment (RFC 9449)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    public = key.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "x": _b64url(public.x.to_bytes(32, "big")),
        "y": _b64url(public.y.to_bytes(32, "big")),
        "crv": "P-256",
    }
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
    htu = url.split("#", 1)[0].split("?", 1)[0]
    claims: Dict[str, Any] = {"htm": "POST", "htu": htu, "iat": issued_at, "jti": jti}
    compact = (",", ":")
    signing_input = (
        _b64url(json.dumps(header, separators=compact).encode())
        + "."
        + _b64url(json.dumps(claims, separators=compact).encode())
    )
    der = key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

"""``local_aws()``: a whole local AWS for one test, in a ``with`` block.

    from awsroles.testing import local_aws

    with local_aws() as aws:                 # a local STS, a throwaway HOME, profiles base + dev
        creds = aws.resolve("dev")            # awsroles.resolve("dev", env=aws.env, ...)
        assert aws.sts.count("AssumeRole") == 1

It starts a ``FakeSTS`` (and, when asked, a
``FakeIMDS``, a
``FakeContainerEndpoint`` and a
``FakeSSOPortal``), writes ``~/.aws/config`` and
``~/.aws/credentials`` in a throwaway HOME, registers every key pair found in those files with
the local STS, and builds ``LocalAWS.env``: the environment that points at all of it.
``os.environ`` is left alone unless ``patch_environ=True``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union

from ..clock import SYSTEM_CLOCK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..protocols import Clock

__all__ = ["local_aws", "LocalAWS", "DEFAULT_CONFIG", "DEFAULT_CREDENTIALS"]

ACCOUNT = "123456789012"
BASE_ACCESS_KEY = "AKIALOCALBASE0000001"
BASE_SECRET_KEY = "local-base-secret-access-key"

#: ``~/.aws/config`` when none is given: profile ``dev`` assumes role ``Dev`` from ``base``.
DEFAULT_CONFIG = """\
[profile dev]
role_arn = arn:aws:iam::{account}:role/Dev
source_profile = base
"""

#: ``~/.aws/credentials`` when none is given: long-lived keys for profile ``base``.
DEFAULT_CREDENTIALS = f"""\
[base]
aws_access_key_id = {BASE_ACCESS_KEY}
aws_secret_access_key = {BASE_SECRET_KEY}
"""

FakeOptions = Union[bool, Mapping[str, Any], None]


class LocalAWS:
    """What ``local_aws()`` yields. Attributes:

    - ``env``: the environment for the code under test (a plain dict; pass it as ``env=``,
      or to ``subprocess``). A copy of ``os.environ`` without any ``AWS_*`` variable (unless
      ``inherit_environ=False``), plus ``HOME`` and the variables that point at the fakes.
    - ``sts`` (always), ``imds``, ``container``, ``sso`` (None unless asked for): the fakes.
    - ``home``, ``config_path``, ``credentials_path``, ``cache_dir``: paths (strings).
    - ``clock``: the clock shared by the fakes and ``resolve()``.
    - ``account``, ``access_key``, ``secret_key``: the default ``base`` user's account and keys.
    """

    def __init__(self, home: str, clock: Clock, account: str) -> None:
        self.home = home
        self.clock = clock
        self.account = account
        self.access_key, self.secret_key = BASE_ACCESS_KEY, BASE_SECRET_KEY
        self.env: Dict[str, str] = {}
        self.sts: Any = None
        self.imds: Any = None
        self.container: Any = None
        self.sso: Any = None

    # -- paths -------------------------------------------------------------------------------

    @property
    def aws_dir(self) -> str:
        return os.path.join(self.home, ".aws")

    @property
    def config_path(self) -> str:
        return os.path.join(self.aws_dir, "config")

    @property
    def credentials_path(self) -> str:
        return os.path.join(self.aws_dir, "credentials")

    @property
    def cache_dir(self) -> str:
        """The AWS CLI's cache, where awsroles (and the CLI) keep role credentials."""
        return os.path.join(self.aws_dir, "cli", "cache")

    def role_arn(self, name: str) -> str:
        """``arn:aws:iam::<account>:role/<name>``."""
        return f"arn:aws:iam::{self.account}:role/{name}"

    # -- the shared files --------------------------------------------------------------------

    def write_config(self, text: str) -> None:
        """Replace ``~/.aws/config`` (key pairs in it are registered with the local STS)."""
        self._write(self.config_path, text)

    def write_credentials(self, text: str) -> None:
        """Replace ``~/.aws/credentials`` (its key pairs are registered with the local STS)."""
        self._write(self.credentials_path, text)

    def add_profile(self, name: str, **values: Any) -> None:
        """Append ``[profile NAME]`` with ``key = value`` lines to ``~/.aws/config``:
        ``aws.add_profile("ops", role_arn=aws.role_arn("Ops"), source_profile="dev")``."""
        section = "default" if name == "default" else f"profile {name}"
        lines = [f"[{section}]"] + [f"{key} = {value}" for key, value in values.items()]
        try:
            with open(self.config_path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        if text and not text.endswith("\n"):
            text += "\n"
        self.write_config(text + "\n".join(lines) + "\n")

    def _write(self, path: str, text: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # a new file (new inode) every time, so a cached parse of the old one is never reused
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        self.register_keys()

    def register_keys(self) -> None:
        """Register every ``aws_access_key_id``/``aws_secret_access_key`` pair in the files
        as a user of the local STS (done after every write; files that do not parse are
        skipped, so tests of broken configurations still work)."""
        from ..config.files import load_shared_config
        from ..errors import AwsRolesError

        try:
            config = load_shared_config(
                {"HOME": self.home},
                config_file=self.config_path,
                credentials_file=self.credentials_path,
            )
        except (AwsRolesError, OSError):
            return
        for name, profile in config.profiles.items():
            key, secret = profile.get("aws_access_key_id"), profile.get("aws_secret_access_key")
            if key and secret and self.sts is not None:
                user = re.sub(r"[^\w+=,.@-]", "-", name) or "user"
                self.sts.add_user(key.strip(), secret.strip(), self.account, user)

    # -- using it ----------------------------------------------------------------------------

    def resolve(self, profile: Optional[str] = None, **options: Any) -> Any:
        """``awsroles.resolve(profile, env=self.env, clock=self.clock, **options)``."""
        import awsroles

        options.setdefault("env", self.env)
        options.setdefault("clock", self.clock)
        return awsroles.resolve(profile, **options)

    def explain(self, profile: Optional[str] = None, **options: Any) -> str:
        """``awsroles.explain(profile, env=self.env, clock=self.clock, **options)``."""
        import awsroles

        options.setdefault("env", self.env)
        options.setdefault("clock", self.clock)
        return awsroles.explain(profile, **options)

    def cache_files(self) -> List[str]:
        """Names of the cache entries (``<sha1>.json``), sorted."""
        try:
            names = os.listdir(self.cache_dir)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if n.endswith(".json"))

    def clear_cache(self) -> None:
        shutil.rmtree(self.cache_dir, ignore_errors=True)

    def run(self, args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """``subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=120)``;
        keyword arguments override those defaults."""
        kwargs.setdefault("env", self.env)
        kwargs.setdefault("timeout", 120)
        if "stdout" not in kwargs and "stderr" not in kwargs:
            kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(args, **kwargs)

    def cli(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run the ``awsroles`` command (as ``python -m awsroles``) in this environment:
        ``aws.cli("export", "--profile", "dev", "--format", "json")``."""
        return self.run([sys.executable, "-m", "awsroles", *args], **kwargs)

    def sso_login(self, session_name_or_start_url: str, **kwargs: Any) -> str:
        """What ``aws sso login`` leaves behind, in this HOME (needs ``sso=True``)."""
        if self.sso is None:
            raise RuntimeError("start the fake SSO portal with local_aws(sso=True)")
        path: str = self.sso.login(self.home, session_name_or_start_url, **kwargs)
        return path

    def __repr__(self) -> str:
        return f"LocalAWS(home={self.home!r}, sts={self.sts!r})"


def _options(value: FakeOptions) -> Optional[Dict[str, Any]]:
    if value is None or value is False:
        return None
    return {} if value is True else dict(value)


def _start(stack: ExitStack, fake: Any) -> Any:
    """Start ``fake`` unless it is running already; stop it at the end only if started here."""
    try:
        fake.port  # noqa: B018 - raises RuntimeError when it is not running
        return fake
    except RuntimeError:
        return stack.enter_context(fake)


@contextmanager
def local_aws(
    config: Optional[str] = None,
    credentials: Optional[str] = None,
    *,
    profile: Optional[str] = None,
    region: Optional[str] = "us-east-1",
    env: Optional[Mapping[str, Optional[str]]] = None,
    clock: Clock = SYSTEM_CLOCK,
    account: str = ACCOUNT,
    sts: Any = None,
    imds: FakeOptions = False,
    container: FakeOptions = False,
    sso: FakeOptions = False,
    home: Union[str, os.PathLike[str], None] = None,
    inherit_environ: bool = True,
    patch_environ: bool = False,
) -> Iterator[LocalAWS]:
    """A local STS and a throwaway HOME holding ``config`` and ``credentials`` (the text of
    ``~/.aws/config`` and ``~/.aws/credentials``; each defaults to ``DEFAULT_CONFIG`` /
    ``DEFAULT_CREDENTIALS``; pass ``""`` for an empty file).

    - ``profile``: set ``AWS_PROFILE``; ``region``: ``AWS_DEFAULT_REGION`` (None: unset);
      ``env``: more variables, last (a value of None removes the variable).
    - ``clock``: shared by the fakes and ``LocalAWS.resolve()`` (e.g. a ``FrozenClock``).
    - ``sts``: keyword arguments for ``FakeSTS`` (a mapping), or a ``FakeSTS`` to use.
    - ``imds``, ``container``, ``sso``: True (or a mapping of keyword arguments) starts that
      fake and points the environment at it. Without ``imds``,
      ``AWS_EC2_METADATA_DISABLED=true``, so nothing reaches for the real metadata service.
    - ``home``: use this directory (kept afterwards) instead of a temporary one.
    - ``inherit_environ=False``: ``env`` holds only the variables set here.
    - ``patch_environ=True``: also put ``env`` into ``os.environ`` (every ``AWS_*`` variable
      not in it removed) for the block, restored afterwards: for code that reads
      ``os.environ`` itself, such as boto3, botocore or a subprocess you do not control.
    """
    from .fake_sts import FakeSTS

    with ExitStack() as stack:
        if home is None:
            home = stack.enter_context(tempfile.TemporaryDirectory(prefix="awsroles-home-"))
        home = os.path.abspath(os.fspath(home))
        os.makedirs(home, exist_ok=True)
        aws = LocalAWS(home, clock, account)

        if isinstance(sts, FakeSTS):
            aws.sts = _start(stack, sts)
        else:
            aws.sts = stack.enter_context(FakeSTS(**{"clock": clock, **(_options(sts) or {})}))
        aws.sts.add_user(BASE_ACCESS_KEY, BASE_SECRET_KEY, account, "base")

        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        out: Dict[str, str] = dict(base) if inherit_environ else {}
        out["HOME"] = home
        if os.name == "nt":  # pragma: no cover - where Windows looks for ~
            out["USERPROFILE"] = home
        out["AWS_ENDPOINT_URL_STS"] = aws.sts.url
        if region is not None:
            out["AWS_DEFAULT_REGION"] = region
        if profile is not None:
            out["AWS_PROFILE"] = profile

        imds_options = _options(imds)
        if imds_options is None:
            out["AWS_EC2_METADATA_DISABLED"] = "true"
        else:
            from .fake_imds import FakeIMDS

            aws.imds = stack.enter_context(FakeIMDS(**{"clock": clock, **imds_options}))
            out["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = aws.imds.url
        container_options = _options(container)
        if container_options is not None:
            from .fake_container import FakeContainerEndpoint

            aws.container = stack.enter_context(
                FakeContainerEndpoint(**{"clock": clock, **container_options})
            )
            out["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = aws.container.url
            if aws.container.token is not None:
                out["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = aws.container.token
        sso_options = _options(sso)
        if sso_options is not None:
            from .fake_sso import FakeSSOPortal

            aws.sso = stack.enter_context(FakeSSOPortal(**{"clock": clock, **sso_options}))
            out["AWS_ENDPOINT_URL_SSO"] = aws.sso.url
            out["AWS_ENDPOINT_URL_SSO_OIDC"] = aws.sso.url

        for name, value in (env or {}).items():
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
        aws.env = out

        aws._write(
            aws.config_path, DEFAULT_CONFIG.format(account=account) if config is None else config
        )
        aws._write(
            aws.credentials_path, DEFAULT_CREDENTIALS if credentials is None else credentials
        )

        if patch_environ:
            stack.enter_context(_patched_environ(out))
        yield aws


@contextmanager
def _patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """Make ``os.environ`` hold ``env``'s values and no other ``AWS_*`` variable; restore every
    variable touched afterwards (even if the block raised)."""
    saved: Dict[str, Optional[str]] = {}
    for name in list(os.environ):
        if name.startswith("AWS_") and name not in env:
            saved[name] = os.environ.pop(name)
    for name, value in env.items():
        if os.environ.get(name) != value:
            saved.setdefault(name, os.environ.get(name))
            os.environ[name] = value
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old

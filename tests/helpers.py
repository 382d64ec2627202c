"""Shared test helpers: a throwaway HOME with ~/.aws files and an environment for it."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Dict, Optional

import pytest

ACCOUNT = "123456789012"
BASE_KEY = "AKIATESTBASE00000001"
BASE_SECRET = "base-secret-value-PLANTED"


def role(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def write_aws_files(home, config: str = "", credentials: Optional[str] = None) -> None:
    aws = os.path.join(str(home), ".aws")
    os.makedirs(aws, exist_ok=True)
    with open(os.path.join(aws, "config"), "w") as f:
        f.write(config)
    if credentials is None:
        credentials = (
            f"[base]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = {BASE_SECRET}\n"
        )
    with open(os.path.join(aws, "credentials"), "w") as f:
        f.write(credentials)


def make_env(home, sts_url: Optional[str] = None, **extra: str) -> Dict[str, str]:
    env = {
        "HOME": str(home),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    if sts_url:
        env["AWS_ENDPOINT_URL_STS"] = sts_url
    env.update(extra)
    return env


def find_aws() -> Optional[str]:
    """The AWS CLI: the ``aws`` installed beside this interpreter (same botocore), then PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "aws")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return shutil.which("aws")


def need_aws() -> str:
    """The AWS CLI's path; skips the test when it is not installed."""
    aws = find_aws()
    if aws is None:
        pytest.skip("the AWS CLI (`aws`) is not installed")
    return aws


def cache_dir(home) -> str:
    return os.path.join(str(home), ".aws", "cli", "cache")


def cache_files(home) -> list:
    d = cache_dir(home)
    if not os.path.isdir(d):
        return []
    return sorted(n for n in os.listdir(d) if n.endswith(".json"))


TWO_HOP = f"""\
[profile ops]
role_arn = {role("Ops")}
source_profile = base

[profile dev]
role_arn = {role("Dev")}
source_profile = ops
role_session_name = dev-session
region = us-east-1
"""


_SERVICES = ("env", "clock", "transport", "cache", "prompter", "process_stderr", "config")


def make_context(profile: Optional[str] = None, **options):
    """A Context from resolve()'s keyword names: the service ones (env, clock, transport,
    cache, prompter, process_stderr, config) go to Services, the rest to Settings."""
    from awsroles.context import Context, Services, Settings

    services = {k: options.pop(k) for k in list(options) if k in _SERVICES}
    return Context(Settings(profile=profile, **options), Services(**services))


def load(provider, ctx):
    """What the chain gets from ``provider`` for ``ctx``: its credentials, or None when it
    does not apply (or, having applied, found none)."""
    from awsroles.providers.base import NotApplicable

    found = provider.find(ctx)
    if isinstance(found, NotApplicable):
        return None
    loaded = found.load()
    return None if isinstance(loaded, NotApplicable) else loaded


def check(provider, ctx):
    """``(applies, reason)`` of ``provider.find(ctx)``, as explain prints it."""
    from awsroles.providers.base import Applies

    found = provider.find(ctx)
    return isinstance(found, Applies), found.reason

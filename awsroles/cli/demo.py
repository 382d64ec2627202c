"""`awsroles demo`: a two-hop role chain against a local STS, start to finish, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, TextIO

DEMO_ACCOUNT = "123456789012"
CONFIG = """\
[profile ops]
role_arn = arn:aws:iam::{account}:role/Ops
source_profile = base

[profile dev]
role_arn = arn:aws:iam::{account}:role/Dev
source_profile = ops
role_session_name = awsroles-demo
region = us-east-1
"""
CREDENTIALS = """\
[base]
aws_access_key_id = AKIADEMOBASE00000001
aws_secret_access_key = demo-base-secret-key
"""

SECOND_PROCESS = (
    "import awsroles; c = awsroles.resolve(); f = c.get_frozen_credentials(); "
    "print(f.access_key[:4] + '****', f.expiry.isoformat())"
)


def _env(home: str, sts_url: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=home,
        AWS_PROFILE="dev",
        AWS_ENDPOINT_URL_STS=sts_url,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def run(out: TextIO = sys.stdout) -> int:
    import awsroles
    from awsroles.testing.fake_sts import FakeSTS

    def say(text: str = "") -> None:
        out.write(text + "\n")
        out.flush()

    with tempfile.TemporaryDirectory(prefix="awsroles-demo-") as home, FakeSTS() as sts:
        aws = os.path.join(home, ".aws")
        os.makedirs(aws)
        with open(os.path.join(aws, "config"), "w") as f:
            f.write(CONFIG.format(account=DEMO_ACCOUNT))
        with open(os.path.join(aws, "credentials"), "w") as f:
            f.write(CREDENTIALS)
        sts.add_user("AKIADEMOBASE00000001", "demo-base-secret-key", DEMO_ACCOUNT, "base-user")
        env = _env(home, sts.url)

        say(f"== A local STS at {sts.url}; HOME is {home}")
        say("~/.aws/config:")
        say(textwrap.indent(CONFIG.format(account=DEMO_ACCOUNT), "    "))
        say("== awsroles.explain() before anything is called:")
        say(textwrap.indent(awsroles.explain(env=env), "    "))

        creds = awsroles.resolve(env=env)
        frozen = creds.get_frozen_credentials()
        from awsroles.context import Context, Services

        identity = Context(services=Services(env=env)).sts_client().get_caller_identity(frozen)
        say("")
        say(
            f"== Resolved profile 'dev': {sts.count('AssumeRole')} AssumeRole calls (ops, then dev)"
        )
        expires = frozen.expiry.isoformat() if frozen.expiry else "never"
        say(f"    access key {frozen.access_key[:4]}****, expires {expires}")
        say(f"    GetCallerIdentity: {identity['Arn']}")

        cache_dir = os.path.join(aws, "cli", "cache")
        say("")
        say(f"== Cache entries written in the AWS CLI's format ({cache_dir}):")
        for name in sorted(os.listdir(cache_dir)):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(cache_dir, name)) as f:
                entry = json.load(f)
            mode = oct(os.stat(os.path.join(cache_dir, name)).st_mode & 0o777)
            user = entry.get("AssumedRoleUser", {}).get("Arn")
            say(f"    {name}  mode {mode}  {user}  expires {entry['Credentials']['Expiration']}")

        before = sts.count("AssumeRole")
        second = subprocess.run(
            [sys.executable, "-c", SECOND_PROCESS],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        say("")
        say("== A second, fresh process resolves the same profile:")
        if second.returncode != 0:
            say(textwrap.indent(second.stderr, "    "))
            return 1
        say(f"    {second.stdout.strip()}")
        after = sts.count("AssumeRole")
        say(f"    AssumeRole calls made by it: {after - before} (served from the cache)")
        say("")
        say("== awsroles.explain() now:")
        say(textwrap.indent(awsroles.explain(env=env), "    "))
        return 0 if after == before else 1

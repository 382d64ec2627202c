"""awsroles: AWS credentials from IAM roles, the way the AWS CLI resolves and caches them.

The public face only. Everything heavy (config parsing, HTTP, botocore signing) is imported
on first use, so ``import awsroles`` is cheap:

    import awsroles
    creds = awsroles.resolve(profile="dev")          # refreshable credentials
    print(awsroles.explain(profile="dev"))            # why it resolves that way
    s3 = awsroles.boto3_session(profile="dev").client("s3")
"""

from __future__ import annotations

from ._version import __version__ as __version__
from .credentials import Credentials
from .errors import *  # noqa: F401,F403  (the exception tree is public)
from .errors import __all__ as _error_names

TYPE_CHECKING = False
if TYPE_CHECKING:  # what type checkers see; at run time these load on first use (below)
    from typing import Any, List

    from .api import explain as explain
    from .api import resolve as resolve
    from .integrations.boto3 import boto3_session as boto3_session
    from .integrations.botocore import botocore_session as botocore_session
    from .integrations.botocore import install as install
    from .refresh.sync import RefreshableCredentials as RefreshableCredentials

__all__ = [
    "resolve",
    "explain",
    "boto3_session",
    "botocore_session",
    "install",
    "Credentials",
    "RefreshableCredentials",
    "__version__",
] + list(_error_names)

_LAZY = {
    "resolve": ("awsroles.api", "resolve"),
    "explain": ("awsroles.api", "explain"),
    "boto3_session": ("awsroles.integrations.boto3", "boto3_session"),
    "botocore_session": ("awsroles.integrations.botocore", "botocore_session"),
    "install": ("awsroles.integrations.botocore", "install"),
    "RefreshableCredentials": ("awsroles.refresh.sync", "RefreshableCredentials"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'awsroles' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))

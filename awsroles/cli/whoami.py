"""``awsroles whoami``: sts:GetCallerIdentity with the resolved credentials."""

from __future__ import annotations

import json

from .output import shown

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def run_whoami(profile: Optional[str], as_json: bool, mfa_token: Optional[str] = None) -> int:
    from .resolve import resolve_for_command

    creds, ctx = resolve_for_command(profile, mfa_token=mfa_token)
    identity = ctx.sts_client().get_caller_identity(creds)
    if as_json:
        # The shape and key order of `aws sts get-caller-identity --output json`.
        doc = {k: identity[k] for k in ("UserId", "Account", "Arn") if k in identity}
        print(json.dumps(doc, indent=4))
        return 0
    for key in ("Account", "Arn", "UserId"):
        print(f"{key + ':':<9}{shown(identity.get(key, '?'))}")
    return 0

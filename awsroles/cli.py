"""The ``awsroles`` command (also ``python -m awsroles``)."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

EXAMPLES = """\
examples:
  awsroles demo                   run a two-hop role chain against a local STS
  awsroles explain --profile dev  show how profile 'dev' resolves (no network, no secrets)
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="awsroles",
        description="AWS credentials from IAM roles, sharing the AWS CLI's cache.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    sub.add_parser("demo", help="resolve a role chain against a local STS (offline)")
    ex = sub.add_parser("explain", help="show how a profile resolves")
    ex.add_argument("--profile", "-p", help="profile name (default: AWS_PROFILE or 'default')")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    from .errors import AwsRolesError

    try:
        if args.command == "demo":
            from .demo import run

            return run()
        if args.command == "explain":
            from .context import Context
            from .providers.chain import CredentialChain, default_providers
            from .report import render_report

            ctx = Context(args.profile)
            text, error = render_report(ctx, CredentialChain(default_providers(ctx)))
            print(text)
            return 2 if error is not None else 0
    except AwsRolesError as exc:
        print(f"awsroles: error: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

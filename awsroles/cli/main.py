"""The ``awsroles`` command (also ``python -m awsroles``).

Each command lives in its own module of :mod:`awsroles.cli` (:mod:`.export`, :mod:`.exec`,
:mod:`.whoami`, :mod:`.cache`, :mod:`.demo`); this one parses the command line, dispatches,
and turns errors into exit codes:

* 0 on success; an ``exec``'d command's own status (127 not found, 126 not executable,
  128+N killed by signal N);
* 2 for a usage error or an :class:`awsroles.AwsRolesError` (``awsroles: error: ...`` on
  stderr, naming the file, profile and key; never a secret), and for ``explain`` when
  resolution would fail;
* 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, List, Optional

PROG = "awsroles"

EXAMPLES = """\
examples:
  awsroles demo                             a two-hop role chain against a local STS
  awsroles explain --profile dev            how profile 'dev' resolves (no network, no secrets)
  eval "$(awsroles export --profile dev)"   credentials into this shell (bash/zsh)
  awsroles exec --profile dev -- aws s3 ls  run one command with the credentials
  awsroles whoami --profile dev             which identity the credentials belong to
  awsroles cache list                       entries in ~/.aws/cli/cache, with their profiles

  # in ~/.aws/config, so the AWS CLI and every SDK share awsroles' cache and MFA prompt:
  [profile dev-via-awsroles]
  credential_process = awsroles credential-process --profile dev

Run `awsroles COMMAND --help` for the options and examples of each command.
"""

_PROFILE_HELP = "profile to use (default: AWS_DEFAULT_PROFILE, AWS_PROFILE or 'default')"

_EPILOGS = {
    "demo": """\
examples:
  awsroles demo       start a local STS, resolve a two-hop chain, show the cache being used
""",
    "explain": """\
examples:
  awsroles explain                  the default chain: which provider wins and why
  awsroles explain --profile dev    the plan for 'dev': base, each role hop, cache entries
  AWS_PROFILE=dev awsroles explain  the same, with the profile from the environment

Exits 2 when resolution would fail (the reason is printed).
""",
    "export": """\
examples:
  eval "$(awsroles export --profile dev)"                     bash, zsh, sh
  awsroles export --profile dev --format fish | source        fish
  awsroles export -p dev --format powershell | Invoke-Expression
  awsroles export -p dev --format dotenv > .env               a .env file (keep it private)
  awsroles export -p dev --format json                        JSON, with AccountId if known

The formats are the AWS CLI v2's `aws configure export-credentials` ones. Credentials inside
their advisory refresh window are refreshed first. The output holds secrets.
""",
    "credential-process": """\
examples:
  # ~/.aws/config: the AWS CLI and every AWS SDK get 'dev' through awsroles
  [profile dev-via-awsroles]
  credential_process = awsroles credential-process --profile dev

  awsroles credential-process --profile dev     print the Version 1 JSON

--profile is required: the command inherits the caller's environment, and an AWS_PROFILE
there (often the very profile that runs it) must not decide what it resolves. A profile whose
credential_process calls awsroles for itself is refused with an error naming it. Credentials
inside their advisory refresh window are refreshed before they are printed.
""",
    "exec": """\
examples:
  awsroles exec --profile dev -- aws sts get-caller-identity
  awsroles exec -p dev -- terraform plan
  awsroles exec -p dev -- sh -c 'echo "$AWS_ACCESS_KEY_ID"'

The command gets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
AWS_CREDENTIAL_EXPIRATION; AWS_PROFILE and AWS_DEFAULT_PROFILE are removed, and the profile's
region is passed as AWS_REGION/AWS_DEFAULT_REGION when those are not set. The exit status is the
command's (127: not found, 126: cannot be executed).
""",
    "whoami": """\
examples:
  awsroles whoami --profile dev         Account, Arn and UserId (sts:GetCallerIdentity)
  awsroles whoami -p dev --json         the same as JSON, like `aws sts get-caller-identity`
""",
    "cache": """\
examples:
  awsroles cache list                   entries, their role, profile, expiry (never secrets)
  awsroles cache clear --profile dev    delete the entries of dev's role hops
  awsroles cache clear                  delete every entry (the next call goes to STS)
""",
}


def _sub(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog=_EPILOGS.get(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _parser() -> argparse.ArgumentParser:
    from .._version import __version__
    from .export import DEFAULT_FORMAT, FORMATS

    p = argparse.ArgumentParser(
        prog=PROG,
        description="AWS credentials from IAM roles, sharing the AWS CLI's cache.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument(
        "--debug", action="store_true", help="log what awsroles does to stderr (no secrets)"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    _sub(sub, "demo", "resolve a role chain against a local STS (offline)")

    ex = _sub(sub, "explain", "show how a profile resolves (offline, no secrets)")
    ex.add_argument("--profile", "-p", help=_PROFILE_HELP)

    exp = _sub(sub, "export", "print credentials for a shell or a file")
    exp.epilog = (
        "formats:\n"
        + "".join(f"  {k:<14} {v}\n" for k, v in FORMATS.items())
        + "\n"
        + (exp.epilog or "")
    )
    exp.add_argument("--profile", "-p", help=_PROFILE_HELP)
    _mfa_token(exp)
    exp.add_argument(
        "--format",
        "-f",
        choices=list(FORMATS),
        default=DEFAULT_FORMAT,
        metavar="FORMAT",
        help="output format, one of: " + ", ".join(FORMATS) + " (default: %(default)s)",
    )

    cp = _sub(sub, "credential-process", "print credential_process Version 1 JSON")
    cp.add_argument("--profile", "-p", required=True, help="profile to resolve (required)")
    _mfa_token(cp)

    run = _sub(sub, "exec", "run a command with the credentials in its environment")
    run.add_argument("--profile", "-p", help=_PROFILE_HELP)
    _mfa_token(run)
    run.add_argument(
        "argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARG ...]", help="the command to run"
    )

    who = _sub(sub, "whoami", "show the identity behind the credentials (GetCallerIdentity)")
    who.add_argument("--profile", "-p", help=_PROFILE_HELP)
    _mfa_token(who)
    who.add_argument("--json", action="store_true", help="print JSON")

    cache = _sub(sub, "cache", "list or clear the shared credential cache (~/.aws/cli/cache)")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="ACTION")
    cache_sub.required = True
    cache_sub.add_parser(
        "list",
        help="one line per entry: file, expiry, time left, profile, role (never secrets)",
        epilog=_EPILOGS["cache"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    clear = cache_sub.add_parser(
        "clear",
        help="delete a profile's entries, or every entry",
        epilog=_EPILOGS["cache"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    clear.add_argument("--profile", "-p", help="only the entries of this profile's role hops")
    return p


def _mfa_token(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mfa-token",
        metavar="CODE",
        help="the current MFA code, when the profile needs one (otherwise its mfa_process, "
        "or the terminal, is asked)",
    )


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "demo":
        from .demo import run

        return run()
    if cmd == "explain":
        from ..context import Context, Settings
        from ..resolver.report import render_report
        from .output import shown

        text, error = render_report(Context(Settings(profile=args.profile)))
        print(shown(text, lines=True))
        return 2 if error is not None else 0
    if cmd == "export":
        from .export import run_export

        return run_export(args.profile, args.format, args.mfa_token)
    if cmd == "credential-process":
        from .export import run_credential_process

        return run_credential_process(args.profile, args.mfa_token)
    if cmd == "exec":
        from .exec import run_exec

        return run_exec(args.profile, args.argv, args.mfa_token)
    if cmd == "whoami":
        from .whoami import run_whoami

        return run_whoami(args.profile, args.json, args.mfa_token)
    if cmd == "cache":
        from .cache import run_cache_clear, run_cache_list

        if args.cache_command == "list":
            return run_cache_list()
        return run_cache_clear(args.profile)
    raise AssertionError(cmd)  # pragma: no cover - argparse only allows the commands above


def _enable_debug() -> Callable[[], None]:
    """Log awsroles' records to stderr; returns what undoes it (main() may run more than once
    in a process: tests, or a program calling it)."""
    import logging  # only with --debug: awsroles' own loggers stay lazy otherwise

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("awsroles")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)

    return undo


def main(argv: Optional[List[str]] = None) -> int:
    from ..errors import AwsRolesError
    from .output import shown

    undo: Optional[Callable[[], None]] = None
    try:
        args = _parser().parse_args(argv)
        if args.debug:
            undo = _enable_debug()
        return _dispatch(args)
    except AwsRolesError as exc:
        print(f"{PROG}: error: {shown(str(exc), lines=True)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `awsroles ... | head`: the reader went away; exit quietly as other tools do.
        _silence_stdout()
        return 1
    finally:
        if undo is not None:
            undo()


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

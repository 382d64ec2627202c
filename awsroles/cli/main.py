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
    from typing import Callable, Dict, List, Optional

PROG = "awsroles"


def _sub(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse.ArgumentParser:
    from .help import EPILOGS

    parser = sub.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog=EPILOGS.get(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser)
    return parser


def _parser() -> argparse.ArgumentParser:
    from .._version import __version__
    from .export import DEFAULT_FORMAT, FORMATS
    from .help import EXAMPLES, PROFILE_HELP

    p = argparse.ArgumentParser(
        prog=PROG,
        description="AWS credentials from IAM roles, sharing the AWS CLI's cache.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _global_options(p, top=True)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    _sub(sub, "demo", "resolve a role chain against a local STS (offline)")

    ex = _sub(sub, "explain", "show how a profile resolves (offline, no secrets)")
    _profile(ex, PROFILE_HELP)

    exp = _sub(sub, "export", "print credentials for a shell or a file")
    exp.epilog = (
        "formats:\n"
        + "".join(f"  {k:<14} {v}\n" for k, v in FORMATS.items())
        + "\n"
        + (exp.epilog or "")
    )
    _profile(exp, PROFILE_HELP)
    _mfa_token(exp)
    _format(exp, FORMATS, DEFAULT_FORMAT, "output format")

    cp = _sub(sub, "credential-process", "print credential_process Version 1 JSON")
    _profile(cp, "profile to resolve (required)")
    _mfa_token(cp)

    run = _sub(sub, "exec", "run a command (or your shell) with the credentials")
    _profile(run, PROFILE_HELP)
    _mfa_token(run)
    run.add_argument(
        "--server",
        action="store_true",
        help="serve the credentials to the command from a local credential server (as an "
        "ECS container endpoint) instead of passing keys: a long-running command keeps "
        "getting fresh ones",
    )
    run.add_argument(
        "argv",
        nargs=argparse.REMAINDER,
        metavar="-- CMD [ARG ...]",
        help="the command to run (default: your $SHELL)",
    )

    serve = _sub(sub, "serve", "serve credentials to other processes on 127.0.0.1")
    _profile(serve, PROFILE_HELP)
    _mfa_token(serve)
    serve.add_argument(
        "--port", type=int, default=0, help="port to listen on (default: a free one)"
    )
    _format(
        serve,
        {k: v for k, v in FORMATS.items() if k not in ("process", "json")},
        DEFAULT_FORMAT,
        "format of the variables printed at start",
    )

    console = _sub(sub, "console", "print a sign-in URL for the AWS console")
    _profile(console, PROFILE_HELP)
    _mfa_token(console)
    console.add_argument("--open", action="store_true", help="open the URL in a browser")
    console.add_argument(
        "--destination",
        metavar="URL",
        help="console page to land on (default: https://console.aws.amazon.com/)",
    )
    console.add_argument(
        "--duration",
        type=int,
        metavar="SECONDS",
        help="console session length, 900-43200 seconds (sent as SessionDuration; at most "
        "3600 for a chained role)",
    )

    who = _sub(sub, "whoami", "show the identity behind the credentials (GetCallerIdentity)")
    _profile(who, PROFILE_HELP)
    _mfa_token(who)
    who.add_argument("--json", action="store_true", help="print JSON")

    cache = _sub(sub, "cache", "list or clear the shared credential cache (~/.aws/cli/cache)")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="ACTION")
    cache_sub.required = True
    _cache_action(
        cache_sub,
        "list",
        "one line per entry: file, expiry, time left, profile, role (never secrets)",
    )
    clear = _cache_action(cache_sub, "clear", "delete a profile's entries, or every entry")
    _profile(clear, "only the entries of this profile's role hops")
    clear.add_argument(
        "--yes", "-y", action="store_true", help="do not ask before deleting every entry"
    )
    clear.add_argument(
        "--all", action="store_true", help="delete every entry without asking (as --yes)"
    )
    return p


def _global_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """--debug, accepted before the command and after it. On a command's parser the default
    is SUPPRESS, so an option given before the command is not reset by the command's
    parser."""
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="log what awsroles does to stderr (no secrets)",
    )
    if top:
        parser.add_argument("--profile", "-p", help="profile to use, for commands that take one")


def _profile(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--profile", "-p", default=argparse.SUPPRESS, help=help_text)


def _mfa_token(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mfa-token",
        metavar="CODE",
        help="the current MFA code, when the profile needs one (otherwise its mfa_process, "
        "or the terminal, is asked)",
    )


def _format(
    parser: argparse.ArgumentParser, formats: Dict[str, str], default: str, what: str
) -> None:
    parser.add_argument(
        "--format",
        "-f",
        choices=list(formats),
        default=default,
        metavar="FORMAT",
        help=f"{what}, one of: " + ", ".join(formats) + " (default: %(default)s)",
    )


def _cache_action(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse.ArgumentParser:
    from .help import EPILOGS

    action = sub.add_parser(
        name,
        help=help_text,
        epilog=EPILOGS["cache"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(action)
    return action


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

        if args.profile is None:  # required, before or after the command
            print(
                f"{PROG} credential-process: error: the following arguments are required: "
                "--profile/-p",
                file=sys.stderr,
            )
            return 2
        return run_credential_process(args.profile, args.mfa_token)
    if cmd == "exec":
        from .exec import run_exec

        return run_exec(args.profile, args.argv, args.mfa_token, server=args.server)
    if cmd == "serve":
        from .serve import run_serve

        return run_serve(args.profile, args.port, args.format, args.mfa_token)
    if cmd == "console":
        from .console import run_console

        return run_console(
            args.profile,
            args.mfa_token,
            open_browser=args.open,
            destination=args.destination,
            duration=args.duration,
        )
    if cmd == "whoami":
        from .whoami import run_whoami

        return run_whoami(args.profile, args.json, args.mfa_token)
    if cmd == "cache":
        from .cache import run_cache_clear, run_cache_list

        if args.cache_command == "list":
            return run_cache_list()
        return run_cache_clear(args.profile, yes=args.yes or args.all)
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
        print(f"{PROG}: error: {shown(exc.for_command_line(), lines=True)}", file=sys.stderr)
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

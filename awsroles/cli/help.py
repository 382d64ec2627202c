"""The ``awsroles`` command's help texts: the examples shown by ``--help``, per command."""

from __future__ import annotations

__all__ = ["EXAMPLES", "EPILOGS", "PROFILE_HELP"]

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

PROFILE_HELP = "profile to use (default: AWS_DEFAULT_PROFILE, AWS_PROFILE or 'default')"

EPILOGS = {
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
  awsroles exec -p dev                      your $SHELL, with the credentials
  awsroles exec --server -p dev -- terraform apply   a long run: fresh credentials throughout

The command gets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
AWS_CREDENTIAL_EXPIRATION; AWS_PROFILE and AWS_DEFAULT_PROFILE are removed, and the profile's
region is passed as AWS_REGION/AWS_DEFAULT_REGION when those are not set. With --server it gets
no keys but AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN, served by
awsroles while it runs, so its AWS SDKs refresh on their own. AWSROLES_PROFILE names the
profile. The exit status is the command's (127: not found, 126: cannot be executed).
""",
    "serve": """\
examples:
  awsroles serve --profile dev              prints the two variables, serves until Ctrl-C
  awsroles serve -p dev --port 9911 --format dotenv > creds.env

Serves the ECS container-credentials format on 127.0.0.1 only. Clients (every AWS SDK and
the AWS CLI) need AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN as
printed; the token is required, so the lines are secrets. Role credentials only.
""",
    "console": """\
examples:
  awsroles console --profile dev            print a sign-in URL for the AWS console
  awsroles console -p dev --open            open it in the browser

The URL signs in whoever opens it within 15 minutes: it is printed on stdout only (with
--open it goes to the browser instead, on its command line).
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

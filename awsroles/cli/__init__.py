"""The ``awsroles`` command: one module per command."""

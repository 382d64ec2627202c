"""The version of awsroles, where every layer may read it; pyproject.toml takes it from here."""

__version__ = "0.1.0.dev0"

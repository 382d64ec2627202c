"""A boto3.Session whose role credentials come from (and refresh through) awsroles."""

from __future__ import annotations

from typing import Any, Optional

from .botocore import botocore_session


def boto3_session(
    profile: Optional[str] = None, *, region_name: Optional[str] = None, **options: Any
):
    try:
        import boto3
    except ImportError:  # pragma: no cover - depends on the install
        from ..errors import AwsRolesError

        raise AwsRolesError(
            "boto3 is not installed.", hint="pip install 'awsroles[boto3]'"
        ) from None
    return boto3.Session(
        botocore_session=botocore_session(profile, **options), region_name=region_name
    )

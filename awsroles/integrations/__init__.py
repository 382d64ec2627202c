"""awsroles inside botocore, boto3 (and their sessions)."""

"""AWS STS: the calls awsroles makes, their wire format, SigV4 and the endpoint rules."""

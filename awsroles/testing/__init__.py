"""Test kit for awsroles and for users' own tests: fake endpoints, clocks and transports."""

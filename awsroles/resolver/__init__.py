"""Putting it together: the provider chain, the profile's plan executed (base credentials,
then each role hop through the cache), and the explanation of both."""

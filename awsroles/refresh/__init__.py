"""Refreshable credentials: the refresh policy, its thread driver and the background worker."""

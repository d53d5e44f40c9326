"""Tests of authentication: access tokens, the key set and signing in."""

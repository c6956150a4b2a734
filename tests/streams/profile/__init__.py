"""Tests of the online user profile (issue 3)."""

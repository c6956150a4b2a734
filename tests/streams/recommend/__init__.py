"""Tests of the recommendation domain package (streams/recommend)."""

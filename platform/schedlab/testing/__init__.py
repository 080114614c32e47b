"""Fakes and helpers for tests of schedlab and of code built on it."""

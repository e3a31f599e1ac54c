"""Observations in, findings out: pure functions, no I/O."""

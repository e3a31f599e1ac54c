"""Benchmarks of auditor (not shipped in the wheel)."""

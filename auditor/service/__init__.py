"""The audit service: plan, collect, evaluate and store a run for every caller (CLI, re-verify, benchmark)."""

"""SSH collection: one strictly verified connection and one exec request per host."""

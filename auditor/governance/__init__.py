"""Manual evidence and governed exceptions: attestations, waivers, their resolution as of a moment, the verdict."""

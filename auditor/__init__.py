"""auditor: level-3 information-security compliance auditor (TCVN 11930:2017, TCVN 14423:2026)."""

__version__ = "0.1.0"

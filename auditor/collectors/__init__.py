"""Collectors: observe a target read-only and hand back typed observations.

`ssh/` observes a server from inside (one exec per host); `network/` observes from outside.
"""

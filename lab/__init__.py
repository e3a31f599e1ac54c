"""Test lab for auditor: Debian hosts in network namespaces with different security postures.

Run as root. ``python -m lab up 3`` starts labh1..labh3 (Debian 12), ``python -m lab up 3
--release trixie`` labt1..labt3 (Debian 13); ``from lab.api import up`` does the same for pytest
fixtures. See ``lab/POSTURES.md`` for what each host is meant to pass or fail.
"""

"""The Merkle root over a manifest's entries, as Certificate Transparency (RFC 6962, section 2.1) defines it.

    leaf(name, sha256) = SHA-256(0x00 || UTF-8(name) || 0x00 || sha256 as 32 raw bytes)
    node(left, right)  = SHA-256(0x01 || left || right)
    root([])           = SHA-256("")
    root([e])          = leaf(e)
    root(e[0:n])       = node(root(e[0:k]), root(e[k:n]))  with k the largest power of two below n

The 0x00 / 0x01 prefixes keep a leaf from ever being read as an inner node (no second-preimage trick), and a
name can hold no NUL, so the name and the digest cannot be shifted against each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(name: str, sha256_hex: str) -> bytes:
    return leaf_of_digest(name, bytes.fromhex(sha256_hex))


def leaf_of_digest(name: str, digest: bytes) -> bytes:
    """The leaf of an entry whose SHA-256 is given as its 32 raw bytes."""
    if "\x00" in name:
        raise ValueError(f"an entry name holds no NUL: {name!r}")
    return hashlib.sha256(LEAF_PREFIX + name.encode("utf-8") + b"\x00" + digest).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _root(leaves: Sequence[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)  # the largest power of two below len(leaves)
    return node_hash(_root(leaves[:split]), _root(leaves[split:]))


def merkle_root(entries: Sequence[tuple[str, str]]) -> str:
    """The hex root over (name, sha256 hex) entries, in the order given."""
    return root_of_leaves([leaf_hash(name, digest) for name, digest in entries])


def root_of_leaves(leaves: Sequence[bytes]) -> str:
    """The hex root over leaf hashes, in the order given."""
    if not leaves:
        return hashlib.sha256(b"").hexdigest()
    return _root(leaves).hex()

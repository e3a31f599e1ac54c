"""Evidence that stands on its own: the installation's signing key, canonical manifests of runs,
attestations and waivers hashed into a Merkle root and chained over the installation's history, bundles
a third party verifies offline, and the re-check of the store against its manifests.

One job per module: ``keys`` (the Ed25519 key and its fingerprint), ``canonical`` (JSON bytes that hash
alike everywhere), ``merkle`` (the root over a manifest's entries), ``entries`` (the files a run or a
governance record is made of, derived from the store), ``manifest`` (the manifest model and sealing it
into the chain), ``bundle`` (writing a bundle), ``verify`` (checking a bundle) and ``db_verify`` (checking
the store).
"""

"""Zone workers: collection inside an agency's network zone, evaluation and storage central.

The central audit service sends each zoned host's probe plan to its zone's queue on a Celery broker
(:mod:`auditor.zones.dispatch`); a worker placed inside the zone, holding only that zone's SSH keys and
known-hosts entries, runs the real SSH collector and sends back the raw observations
(:mod:`auditor.zones.tasks`). What crosses the network is :mod:`auditor.zones.payload`.
"""

"""Page modules: each defines ``router`` and declares its routes with ``auditor.portal.access.route``."""

"""The command line: options, progress rendering and exit codes only; the work is done by the service and the store."""

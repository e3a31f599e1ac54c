"""The portal: `auditor serve`. Server-rendered pages for the officer, the department and each agency,
with schedules, uploads and mail, over the same store and audit service as the command line."""

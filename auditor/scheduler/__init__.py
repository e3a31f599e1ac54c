"""Scheduled audits: cron expressions per agency (or all), due slots claimed once across processes,
agency leases so two runs of one agency never overlap, and runs started through the audit service."""

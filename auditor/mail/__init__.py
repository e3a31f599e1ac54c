"""Mail delivery: each agency's report after a scheduled run, the department's summary, and reminders
before the yearly reporting date; through the outbox, over SMTP with STARTTLS."""

"""Safe remediation through Ansible: one playbook unit per check, dry run first, lock-out guards, re-verify."""

"""Content shipped with the tool. The folders here link to the repository's top-level
checklists/, playbooks/ and reports/, so the wheel carries them and importlib.resources finds them."""

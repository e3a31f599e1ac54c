"""What the command line takes from the profile without loading every check: the language it speaks (the profile's
``language`` input, when it has one) and the time zone it shows times in (``report_timezone``)."""

from __future__ import annotations

from functools import cache

from auditor.content.checks import Profile
from auditor.content.loader import DEFAULT_PROFILE, builtin_content_dir
from auditor.errors import ContentError
from auditor.foreign import foreign, theirs
from auditor.yamlio import read_yaml_file


@cache
def bundled_profile(profile_id: str = DEFAULT_PROFILE) -> Profile | None:
    """The profile the audits use (profile ids are unique across content folders, so the bundled one is it)."""
    for path in sorted((builtin_content_dir() / "profiles").glob("*.yml")):
        data = read_yaml_file(path, ContentError).data
        if isinstance(data, dict) and data.get("id") == profile_id:
            try:
                return Profile.model_validate(data)
            except ValueError as exc:
                raise ContentError(foreign("profile_invalid", path=path, error=theirs("python", str(exc)))) from None
    return None


def profile_value(name: str) -> str | None:
    """The profile's value of one input, or None when the profile has no such input."""
    profile = bundled_profile()
    if profile is None or name not in profile.inputs:
        return None
    return str(profile.values()[name])

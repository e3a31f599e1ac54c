"""Safe YAML reading and error messages that name the file, the item and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from auditor.errors import ConfigError

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Keys that identify an item in a list, tried in this order, to say *which* item is wrong.
_ITEM_KEYS = ("id", "name", "probe_id", "check")


def load_yaml_file(path: Path, error_cls: type[ConfigError] = ConfigError) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error_cls(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise error_cls(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise error_cls(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader (libyaml's when present)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error_cls(f"{path}:{where}: invalid YAML: {problem}") from None


def describe_location(loc: tuple[int | str, ...], data: Any) -> str:
    """Turn a pydantic error location into 'agencies[0] (id=x) → hosts[1] (name=y) → port'."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(step, int):
            label = f"[{step}]"
            item = node[step] if isinstance(node, list) and 0 <= step < len(node) else None
            if isinstance(item, dict):
                for key in _ITEM_KEYS:
                    if isinstance(item.get(key), str | int):
                        label += f" ({key}={item[key]})"
                        break
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
            node = item
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return " → ".join(parts) or "(top level)"


def format_validation_error(path: Path, exc: ValueError, data: Any, prefix: str = "") -> str:
    if not isinstance(exc, ValidationError):
        return f"{path}: {prefix}{exc}"
    lines = [f"{path}: {prefix}{exc.error_count()} problem(s)"]
    for error in exc.errors(include_url=False):
        # Union branches add the branch name as a location step; drop those to keep it readable.
        loc = tuple(step for step in error["loc"] if not (isinstance(step, str) and step[:1].isupper()))
        # A tagged union repeats its tag (`expect → number → number → op`): keep one.
        loc = tuple(step for i, step in enumerate(loc) if i == 0 or step != loc[i - 1])
        lines.append(f"  - {describe_location(loc, data)}: {error['msg']}")
    return "\n".join(lines)

"""Content as data: checks, shared probe sources, threshold profiles and requirement catalogues, validated strictly."""

from auditor.content.loader import Content, load_content

__all__ = ["Content", "load_content"]

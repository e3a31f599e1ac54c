"""A requirement catalogue (checklists/catalogues/) as an OSCAL catalog: a group per requirement group, a control
per clause with its number as label, the Vietnamese heading as title and summary as statement, the English ones
in a translation part, and the checks and manual items that evidence it as props."""

from __future__ import annotations

from datetime import datetime

from auditor.content.catalogue import Catalogue, Clause
from auditor.content.loader import Content
from auditor.errors import ConfigError
from auditor.foreign import foreign
from auditor.oscal import models as m
from auditor.oscal.ids import PROJECT_NS, control_id, group_id, stable_uuid, standard_key
from auditor.vocabulary import LocalizedText

_EVIDENCE_PROPS = (("checks", "automated-check"), ("network_checks", "network-check"), ("manual", "manual-evidence"))


def catalogue_for_standard(content: Content, standard: str) -> Catalogue:
    """The catalogue named on the command line ('tcvn11930'), or the full framework name ('TCVN 11930:2017')."""
    for framework, catalogue in content.catalogues.items():
        if standard in (framework, standard_key(framework)):
            return catalogue
    known = ", ".join(standard_key(framework) for framework in content.catalogues)
    raise ConfigError(foreign("oscal_standard_unknown", standard=standard, known=known))


def _own(name: str, value: str) -> m.Property:
    return m.Property(name=name, value=value, ns=PROJECT_NS)


def _translation(owner_id: str, text: LocalizedText, prose: LocalizedText | None = None) -> m.Part:
    return m.Part(
        id=f"{owner_id}_en",
        name="translation",
        ns=PROJECT_NS,
        class_="en",
        title=text.en,
        prose=prose.en if prose else None,
    )


def _control(framework: str, clause: Clause) -> m.Control:
    cid = control_id(framework, clause.id)
    evidence = tuple(_own(name, check_id) for field, name in _EVIDENCE_PROPS for check_id in getattr(clause, field))
    return m.Control(
        id=cid,
        class_="clause",
        title=clause.heading.vi,
        props=(m.Property(name="label", value=clause.id), _own("confidence", clause.confidence), *evidence),
        parts=(
            m.Part(id=f"{cid}_smt", name="statement", prose=clause.summary.vi),
            _translation(cid, clause.heading, clause.summary),
        ),
    )


def catalog_document(catalogue: Catalogue, version: str, last_modified: datetime) -> m.CatalogDocument:
    """``version``: the content's version (the catalog's UUID follows the framework and it, so it is stable)."""
    framework = catalogue.framework
    groups = []
    for group in catalogue.groups:
        gid = group_id(framework, group.id)
        groups.append(
            m.Group(
                id=gid,
                class_="requirement-group",
                title=group.heading.vi,
                props=(m.Property(name="label", value=group.id),),
                parts=(_translation(gid, group.heading),),
                controls=tuple(_control(framework, c) for c in catalogue.clauses if c.group == group.id),
            )
        )
    metadata = m.Metadata(
        title=catalogue.title.vi,
        last_modified=last_modified,
        version=version,
        props=(
            _own("framework", framework),
            _own("level", str(catalogue.level)),
            _own("provisional", str(catalogue.provisional).lower()),
            _own("language", "vi"),
            _own("title-en", catalogue.title.en),
        ),
        remarks=catalogue.source,
    )
    return m.CatalogDocument(
        catalog=m.Catalog(uuid=stable_uuid("catalog", framework, version), metadata=metadata, groups=tuple(groups))
    )

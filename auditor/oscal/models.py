"""The part of NIST's OSCAL model (JSON form) that our exports write: catalog and assessment results.

Field names follow the OSCAL JSON names (hyphenated) through aliases. OSCAL forbids empty arrays (``minItems: 1``)
and ``null``, so every model leaves out of its JSON the fields that are ``None`` or empty."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

OSCAL_VERSION = "1.2.3"  # the release whose schemas reports/schema/oscal/ holds


def _hyphenated(name: str) -> str:
    return name.replace("_", "-")


class OscalModel(BaseModel):
    model_config = ConfigDict(alias_generator=_hyphenated, populate_by_name=True, extra="forbid", frozen=True)

    @model_serializer(mode="wrap")
    def _without_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None and value != [] and value != ()}

    def to_json(self) -> str:
        """UTF-8 JSON text (Vietnamese kept as characters), two-space indented, no trailing newline."""
        import json

        return json.dumps(self.model_dump(mode="json", by_alias=True), ensure_ascii=False, indent=2)


class Property(OscalModel):
    name: str
    value: str
    ns: str | None = None
    class_: str | None = Field(default=None, alias="class")
    remarks: str | None = None


class Link(OscalModel):
    href: str
    rel: str | None = None
    text: str | None = None


class Role(OscalModel):
    id: str
    title: str


class Party(OscalModel):
    uuid: str
    type: Literal["person", "organization"]
    name: str
    short_name: str | None = None
    props: tuple[Property, ...] = ()


class ResponsibleParty(OscalModel):
    role_id: str
    party_uuids: tuple[str, ...]


class Resource(OscalModel):
    uuid: str
    title: str | None = None
    description: str | None = None
    props: tuple[Property, ...] = ()


class BackMatter(OscalModel):
    resources: tuple[Resource, ...]


class Metadata(OscalModel):
    title: str
    last_modified: AwareDatetime
    version: str
    oscal_version: str = OSCAL_VERSION
    props: tuple[Property, ...] = ()
    links: tuple[Link, ...] = ()
    roles: tuple[Role, ...] = ()
    parties: tuple[Party, ...] = ()
    responsible_parties: tuple[ResponsibleParty, ...] = ()
    remarks: str | None = None


# ------------------------------------------------------------------------------------------------ catalog


class Part(OscalModel):
    id: str | None = None
    name: str
    ns: str | None = None
    class_: str | None = Field(default=None, alias="class")
    title: str | None = None
    props: tuple[Property, ...] = ()
    prose: str | None = None


class Control(OscalModel):
    id: str
    class_: str | None = Field(default=None, alias="class")
    title: str
    props: tuple[Property, ...] = ()
    parts: tuple[Part, ...] = ()


class Group(OscalModel):
    id: str
    class_: str | None = Field(default=None, alias="class")
    title: str
    props: tuple[Property, ...] = ()
    parts: tuple[Part, ...] = ()
    controls: tuple[Control, ...] = ()


class Catalog(OscalModel):
    uuid: str
    metadata: Metadata
    groups: tuple[Group, ...] = ()


class CatalogDocument(OscalModel):
    catalog: Catalog


# ------------------------------------------------------------------------------------------------ assessment results


class ImportAp(OscalModel):
    href: str


class InventoryItem(OscalModel):
    uuid: str
    description: str
    props: tuple[Property, ...] = ()


class ComponentStatus(OscalModel):
    state: Literal["under-development", "operational", "disposition", "other"]


class Component(OscalModel):
    uuid: str
    type: str
    title: str
    description: str
    status: ComponentStatus
    props: tuple[Property, ...] = ()


class LocalDefinitions(OscalModel):
    components: tuple[Component, ...] = ()
    inventory_items: tuple[InventoryItem, ...] = ()


class SelectControlById(OscalModel):
    control_id: str


class IncludeAll(OscalModel):
    """Every control of the catalogue (an empty object in JSON)."""


class ControlSelection(OscalModel):
    """Either ``include_all`` or ``include_controls``, as the schema requires one of them."""

    description: str | None = None
    props: tuple[Property, ...] = ()
    include_all: IncludeAll | None = None
    include_controls: tuple[SelectControlById, ...] = ()


class ReviewedControls(OscalModel):
    control_selections: tuple[ControlSelection, ...]


SubjectType = Literal["component", "inventory-item", "location", "party", "user"]


class SubjectReference(OscalModel):
    subject_uuid: str
    type: SubjectType
    title: str | None = None


class RelevantEvidence(OscalModel):
    description: str
    href: str | None = None
    props: tuple[Property, ...] = ()


class Observation(OscalModel):
    uuid: str
    title: str | None = None
    description: str
    props: tuple[Property, ...] = ()
    methods: tuple[Literal["EXAMINE", "INTERVIEW", "TEST", "UNKNOWN"], ...]
    subjects: tuple[SubjectReference, ...] = ()
    relevant_evidence: tuple[RelevantEvidence, ...] = ()
    collected: AwareDatetime


class ObjectiveStatus(OscalModel):
    state: Literal["satisfied", "not-satisfied"]
    reason: Literal["pass", "fail", "other"] | None = None
    remarks: str | None = None


class FindingTarget(OscalModel):
    type: Literal["statement-id", "objective-id"]
    target_id: str
    status: ObjectiveStatus


class RelatedObservation(OscalModel):
    observation_uuid: str


class Finding(OscalModel):
    uuid: str
    title: str
    description: str
    props: tuple[Property, ...] = ()
    target: FindingTarget
    related_observations: tuple[RelatedObservation, ...] = ()


class Result(OscalModel):
    uuid: str
    title: str
    description: str
    start: AwareDatetime
    end: AwareDatetime | None = None
    props: tuple[Property, ...] = ()
    local_definitions: LocalDefinitions | None = None
    reviewed_controls: ReviewedControls
    observations: tuple[Observation, ...] = ()
    findings: tuple[Finding, ...] = ()


class AssessmentResults(OscalModel):
    uuid: str
    metadata: Metadata
    import_ap: ImportAp
    results: tuple[Result, ...]
    back_matter: BackMatter | None = None


class AssessmentResultsDocument(OscalModel):
    assessment_results: AssessmentResults

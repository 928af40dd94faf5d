"""Response shape of GET /v1/vocabularies."""

from pydantic import BaseModel


class Term(BaseModel):
    code: str
    zh: str
    en: str


class Vocabularies(BaseModel):
    kinds: list[Term]
    amenities: list[Term]
    access: list[Term]
    report_types: list[Term]
    verification_methods: list[Term]
    site_statuses: list[Term]
    report_statuses: list[Term]
    region_levels: list[Term]
    key_scopes: list[Term]
    target_measures: list[Term]
    target_statuses: list[Term]
    worker_groups: list[Term]
    rating_tags: list[Term]
    callback_reasons: list[Term]
    callback_statuses: list[Term]

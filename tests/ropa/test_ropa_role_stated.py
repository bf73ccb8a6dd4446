"""The record of processing names a recipient's role only when the manifest states it."""

from __future__ import annotations

import json

import pytest

from factories import manifest_yaml, small_manifest_dict
from personvern.manifest.loader import parse_manifest
from personvern.ropa.export import to_csv, to_html, to_jsonld
from personvern.ropa.record import build_record


@pytest.mark.parametrize(("lang", "processor", "unstated"), [
    ("nb", "Databehandler", "rolle ikke oppgitt i manifestet"),
    ("en", "Processor", "role not stated in the manifest"),
])
def test_a_recipient_without_a_stated_role_is_not_called_a_processor(
        lang: str, processor: str, unstated: str) -> None:
    """GDPR Art. 30(1)(d), 28: the record says who the recipients are; "processor" is a
    legal status (on the controller's instructions, under an Art. 28(3) agreement) that
    the engine's default role must not assert. Example Cloud AB has no role: in the
    manifest; the check (PV074) asks for it."""
    m = parse_manifest(manifest_yaml(small_manifest_dict())).manifest
    assert not m.recipients[0].role_stated
    record = build_record(m, lang)  # type: ignore[arg-type]
    entry = record.activities[0].recipients[0]
    assert entry.name == "Example Cloud AB"
    assert entry.role_text == unstated
    for text in (to_csv(record), to_html(record)):
        assert f"Example Cloud AB ({processor}" not in text
        assert f"Example Cloud AB ({unstated}" in text
    graph = json.dumps(to_jsonld(record))
    assert "dpv:DataProcessor" not in graph and "dpv:hasDataProcessor" not in graph


def test_a_stated_processor_is_still_one() -> None:
    data = small_manifest_dict()
    data["recipients"][0]["role"] = "processor"
    record = build_record(parse_manifest(manifest_yaml(data)).manifest, "en")
    assert record.activities[0].recipients[0].role_text == "Processor"
    graph = json.dumps(to_jsonld(record))
    assert "dpv:DataProcessor" in graph and "dpv:hasDataProcessor" in graph

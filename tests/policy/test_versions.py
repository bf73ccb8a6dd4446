"""Publishing versions: notice period, numbering, frozen documents, e-mail notices and the
time from which consent must be fresh. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from personvern.clock import Clock, fixed_clock
from personvern.consent.decide import SubjectFacts, decide
from personvern.consent.events import Actor, Channel, ConsentEvent, EventType
from personvern.consent.subjects import create_subject
from personvern.consent.tables import Identity, Subject
from personvern.errors import Conflict, InvalidInput, NotFound
from personvern.law import get_jurisdiction
from personvern.mail.tables import OutboxMessage
from personvern.policy.render import render_documents
from personvern.policy.tables import PolicyVersion
from personvern.policy.versions import (
    consent_timeline,
    content_sha256,
    fresh_consent_since,
    get_version,
    in_force,
    publish,
    publish_with_notices,
    version_changes,
    version_manifest,
    versions,
)
from personvern.storage.manifests import manifest_sha256
from policy.support import example_data, lawful_data, loaded_from

NOW = datetime.fromisoformat("2027-03-01T12:00:00+01:00")


def clock_at(text: str) -> Clock:
    return fixed_clock(datetime.fromisoformat(text))


def teoritentamen() -> dict[str, Any]:
    return lawful_data()


def with_sentry(data: dict[str, Any]) -> dict[str, Any]:
    """A material change touching the consent-based pixel purpose."""
    data["recipients"].append({
        "id": "sentry", "name": "Sentry", "role": "processor", "country": "US",
        "service": {"nb": "Feilrapporter for å rette feil", "en": "Error reports"},
        "transfer": {"mechanism": "scc"}, "dpa_signed": True,
        "sub_processors": "general_authorisation",
    })
    data["purposes"][6]["recipients"].append("sentry")
    return data


def count(session: Session, table: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_first_version_is_frozen(db_session: Session) -> None:
    loaded = loaded_from(teoritentamen())
    v = publish(db_session, fixed_clock(NOW), loaded, date(2027, 3, 8))
    db_session.commit()
    assert v.number == 1 and not v.material and v.notice_days == 7
    assert v.effective_from == datetime.fromisoformat("2027-03-08T00:00:00+01:00")
    assert [c.kind for c in version_changes(v)] == ["first_version"]
    assert v.manifest_text == loaded.text and v.manifest_sha256 == manifest_sha256(loaded.text)
    expected = render_documents(loaded.manifest, version=1, effective=date(2027, 3, 8))
    assert v.documents == expected
    assert v.content_sha256 == content_sha256(expected, v.manifest_sha256)
    assert "Versjon 1 · Gjelder fra 8. mars 2027" in v.documents["nb"]["html"]
    stored = get_version(db_session, 1)
    assert stored.documents["en"]["md"].startswith("# Privacy policy for Teoritentamen.no")
    assert version_manifest(stored) == loaded.manifest


def test_effective_date_inside_the_notice_period_is_refused(db_session: Session) -> None:
    loaded = loaded_from(teoritentamen())
    before = count(db_session, PolicyVersion)
    with pytest.raises(InvalidInput) as err:
        publish(db_session, fixed_clock(NOW), loaded, date(2027, 3, 7))
    message = str(err.value)
    assert "7 days' notice" in message and "the earliest allowed date is 2027-03-08" in message
    with pytest.raises(InvalidInput, match=r"earliest allowed date is 2027-03-08T12:00\+01:00"):
        publish(db_session, fixed_clock(NOW), loaded,
                datetime.fromisoformat("2027-03-08T11:59:00+01:00"))
    with pytest.raises(InvalidInput, match="needs a UTC offset"):
        publish(db_session, fixed_clock(NOW), loaded, datetime(2027, 4, 1))
    db_session.rollback()
    assert count(db_session, PolicyVersion) == before == 0
    assert count(db_session, OutboxMessage) == 0


def test_without_a_notice_period_only_the_past_is_refused(db_session: Session) -> None:
    data = example_data("snapmentor")
    with pytest.raises(InvalidInput, match="in the past"):
        publish(db_session, fixed_clock(NOW), loaded_from(data), date(2027, 2, 28))
    assert publish(db_session, fixed_clock(NOW), loaded_from(data), date(2027, 3, 1)).number == 1


def test_versions_are_numbered_and_all_kept(db_session: Session) -> None:
    data = teoritentamen()
    publish(db_session, clock_at("2027-03-01T12:00:00+01:00"), loaded_from(data),
            date(2027, 3, 8))
    data["controller"]["phone"] = "+47 22 33 44 55"
    v2 = publish(db_session, clock_at("2027-03-02T12:00:00+01:00"), loaded_from(data),
                 date(2027, 3, 10))
    with_sentry(data)
    v3 = publish(db_session, clock_at("2027-03-03T12:00:00+01:00"), loaded_from(data),
                 date(2027, 3, 20))
    db_session.commit()
    assert [v.number for v in versions(db_session)] == [1, 2, 3]
    assert not v2.material and v3.material
    assert [c["kind"] for c in v2.changes] == ["contact_changed"]
    assert "+47 22 33 44 55" in get_version(db_session, 2).documents["nb"]["md"]
    assert "Sentry" not in get_version(db_session, 2).documents["nb"]["md"]
    assert "Sentry" in get_version(db_session, 3).documents["en"]["html"]
    assert in_force(db_session, datetime.fromisoformat("2027-03-05T00:00:00+01:00")) is None
    found = in_force(db_session, datetime.fromisoformat("2027-03-15T00:00:00+01:00"))
    assert found is not None and found.number == 2
    found = in_force(db_session, datetime.fromisoformat("2027-03-20T00:00:00+01:00"))
    assert found is not None and found.number == 3
    with pytest.raises(NotFound, match="there is no policy version 9; versions 1 to 3 exist"):
        get_version(db_session, 9)


def test_unchanged_or_out_of_order_is_refused(db_session: Session) -> None:
    data = teoritentamen()
    publish(db_session, fixed_clock(NOW), loaded_from(data), date(2027, 3, 20))
    with pytest.raises(Conflict, match="unchanged since version 1"):
        publish(db_session, fixed_clock(NOW), loaded_from(data), date(2027, 3, 25))
    data["controller"]["phone"] = "+47 22 33 44 55"
    with pytest.raises(InvalidInput, match="cannot take effect before it"):
        publish(db_session, fixed_clock(NOW), loaded_from(data), date(2027, 3, 10))
    assert [v.number for v in versions(db_session)] == [1]


def test_incomplete_manifest_is_not_published(db_session: Session) -> None:
    data = teoritentamen()
    data["purposes"][0]["legal_basis"] = None
    with pytest.raises(InvalidInput, match="mandatory element is missing"):
        publish(db_session, fixed_clock(NOW), loaded_from(data), date(2027, 4, 1))
    db_session.rollback()
    assert count(db_session, PolicyVersion) == 0


def _subjects(session: Session) -> dict[str, str]:
    clock = fixed_clock(NOW)
    kari, _ = create_subject(session, clock, {"email": "kari.nordmann@example.no"})
    ola, _ = create_subject(session, clock, {"email": "ola@example.no"})
    session.add(Identity(subject_id=ola.id, kind="email", value="ola.jobb@example.no",
                         created_at=NOW))
    phone_only, _ = create_subject(session, clock, {"phone": "+4791234567"})
    erased, _ = create_subject(session, clock, {"email": "slettet@example.no"})
    session.execute(update(Subject).where(Subject.id == erased.id).values(erased_at=NOW))
    session.flush()
    return {"kari": kari.id, "ola": ola.id, "phone": phone_only.id, "erased": erased.id}


def test_material_change_queues_one_notice_per_subject(db_session: Session) -> None:
    ids = _subjects(db_session)
    data = teoritentamen()
    first = publish_with_notices(db_session, fixed_clock(NOW), loaded_from(data),
                                 date(2027, 3, 8))
    assert first.notices == 0                      # the first version announces nothing
    done = publish_with_notices(db_session, clock_at("2027-03-02T09:00:00+01:00"),
                                loaded_from(with_sentry(data)), date(2027, 3, 9))
    db_session.commit()
    assert done.version.material and done.notices == 2
    rows = db_session.scalars(select(OutboxMessage).order_by(OutboxMessage.to_address)).all()
    assert [(r.to_address, r.subject_id) for r in rows] == [
        ("kari.nordmann@example.no", ids["kari"]), ("ola@example.no", ids["ola"])]
    for r in rows:
        assert r.kind == "policy_notice" and r.status == "queued" and r.attempts == 0
        assert r.dedupe_key == f"policy-notice:v2:{r.subject_id}"
        assert r.title.startswith("Vi endrer personvernerklæringen til Teoritentamen.no fra "
                                  "9. mars 2027 / We are changing")
        assert "ny databehandler: Sentry (USA, standardkontraktsklausuler)" in r.body_text
        assert "new processor: Sentry (USA, standard contractual clauses)" in r.body_text
        assert "samtykke på nytt" in r.body_text
        assert r.body_html is not None and "<li>ny databehandler: Sentry" in r.body_html
        assert 'href="https://teoritentamen.no"' in r.body_html


def test_minor_change_or_no_e_mail_promise_queues_nothing(db_session: Session) -> None:
    _subjects(db_session)
    data = teoritentamen()
    publish(db_session, fixed_clock(NOW), loaded_from(data), date(2027, 3, 8))
    data["controller"]["phone"] = "+47 22 33 44 55"
    assert publish_with_notices(db_session, fixed_clock(NOW), loaded_from(data),
                                date(2027, 3, 9)).notices == 0
    data["policy_changes"]["email_on_material_change"] = False
    done = publish_with_notices(db_session, fixed_clock(NOW), loaded_from(with_sentry(data)),
                                date(2027, 3, 10))
    assert done.version.material and done.notices == 0
    assert count(db_session, OutboxMessage) == 0


def test_many_subjects_are_queued_in_one_statement(db_session: Session) -> None:
    n = 3000
    db_session.execute(insert(Subject), [
        {"id": f"{i:032x}", "created_at": NOW, "existing_customer": False} for i in range(n)])
    # Plain values in the lookup column, as rows written before encryption are (opened as such).
    db_session.execute(insert(Identity.__table__), [
        {"subject_id": f"{i:032x}", "kind": "email", "value": f"person{i}@example.no",
         "created_at": NOW} for i in range(n)])
    data = teoritentamen()
    publish(db_session, fixed_clock(NOW), loaded_from(data), date(2027, 3, 8))
    done = publish_with_notices(db_session, fixed_clock(NOW), loaded_from(with_sentry(data)),
                                date(2027, 3, 9))
    assert done.notices == n == count(db_session, OutboxMessage)


def test_fresh_consent_since(db_session: Session) -> None:
    data = teoritentamen()
    publish(db_session, fixed_clock(NOW), loaded_from(data), date(2027, 3, 8))
    data["controller"]["phone"] = "+47 22 33 44 55"       # minor
    publish(db_session, fixed_clock(NOW), loaded_from(data), date(2027, 3, 9))
    assert fresh_consent_since(db_session, datetime.fromisoformat(
        "2027-06-01T00:00:00+02:00")) is None
    publish(db_session, fixed_clock(NOW), loaded_from(with_sentry(data)), date(2027, 3, 10))
    data["purposes"][0]["categories"].append("user.location")   # material, contract only
    publish(db_session, fixed_clock(NOW), loaded_from(data), date(2027, 3, 12))
    db_session.commit()
    changed = datetime.fromisoformat("2027-03-10T00:00:00+01:00")
    assert fresh_consent_since(db_session, changed - timedelta(seconds=1)) is None
    assert fresh_consent_since(db_session, changed) == changed
    assert fresh_consent_since(db_session, datetime.fromisoformat(
        "2027-09-01T00:00:00+02:00")) == changed
    assert fresh_consent_since(db_session, changed, "ad_pixels") == changed
    assert fresh_consent_since(db_session, changed, "marketing_cookies") is None
    timeline = consent_timeline(db_session)
    assert len(timeline.entries) == 1


def test_consent_given_before_a_material_change_must_be_renewed(db_session: Session) -> None:
    data = teoritentamen()
    publish(db_session, fixed_clock(NOW), loaded_from(data), date(2027, 3, 8))
    changed = loaded_from(with_sentry(data))
    publish(db_session, fixed_clock(NOW), changed, date(2027, 3, 10))
    m, j = changed.manifest, get_jurisdiction("NO")

    def event(at: str) -> ConsentEvent:
        return ConsentEvent(EventType.CONSENT_GIVEN, "ad_pixels", datetime.fromisoformat(at),
                            Actor.SELF, Channel.BANNER)

    after = datetime.fromisoformat("2027-03-11T12:00:00+01:00")
    since = fresh_consent_since(db_session, after, "ad_pixels")
    old = decide(m, j, "ad_pixels", SubjectFacts(), [event("2027-03-02T12:00:00+01:00")], after,
                 fresh_consent_since=since)
    assert not old.allowed and old.code == "policy_changed"
    new = decide(m, j, "ad_pixels", SubjectFacts(), [event("2027-03-10T08:00:00+01:00")], after,
                 fresh_consent_since=since)
    assert new.allowed

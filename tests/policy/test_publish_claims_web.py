"""The API's policy publish and the dashboard's policy page say what ``personvern policy
publish`` says: how many people the promised e-mail notice of a material change cannot
reach (no e-mail address on record), not a count of notices queued that passes for all."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient

from mail.test_mail_cli import env_for
from personvern.settings import get_settings
from policy.support import lawful_data
from policy.test_publish_claims import NOW, first_version_with, with_processor
from staff.support import sign_in_as
from web.support import assert_problem, new_key, open_client, runtime_of

PASSWORD = "fjord lantern pebble 42"


def served(tmp_path: Path) -> TestClient:
    """The app on the manifest and database the CLI set up, with an admin key."""
    from personvern.web import create_app

    app = create_app(get_settings(manifest=tmp_path / "personvern.yaml",
                                  database_url=f"sqlite:///{tmp_path / 'pv.db'}"),
                     lambda: datetime.fromisoformat(NOW))
    return open_client(app)


def dashboard_policy(client: TestClient) -> str:
    """The policy page, as a privacy officer sees it."""
    from personvern.staff.users import add_user

    rt = runtime_of(client)
    with rt.transaction() as s:
        add_user(s, rt.clock, "po@example.no", PASSWORD, role="privacy_officer")
    sign_in_as(client, "po@example.no", PASSWORD)
    page = client.get("/dashboard/policy")
    assert page.status_code == 200, page.text
    return page.text


def test_the_api_and_the_dashboard_count_the_people_no_notice_reaches(
        tmp_path: Path) -> None:
    data = lawful_data()
    first_version_with(tmp_path, data, ("--email", "kari@example.no"),
                       ("--phone", "+47 912 34 567"), ("--external-id", "elev-7"))
    with_processor(data, "sentry")
    env_for(tmp_path, data)
    with served(tmp_path) as api:
        api.headers["Authorization"] = f"Bearer {new_key(api)}"
        r = api.post("/api/v1/policy/versions", json={"effective": "2027-03-09"})
        assert r.status_code == 201, r.text
        assert (r.json()["material"], r.json()["notices_queued"],
                r.json()["notices_unreachable"]) == (True, 1, 2)
        # Refused, it counts nothing and stores nothing.
        assert_problem(api.post("/api/v1/policy/versions", json={"effective": "2027-03-10"}),
                       409, "nothing to publish")
        assert [v["number"] for v in api.get("/api/v1/policy/versions").json()] == [1, 2]
        del api.headers["Authorization"]
        page = dashboard_policy(api)
    assert "Not enforced: 2 people have no e-mail address on record: the notice of a " \
        "material change the policy promises does not reach them; tell them another way" \
        in page, page


def test_without_the_promise_nobody_is_counted(tmp_path: Path) -> None:
    data = lawful_data()
    data["policy_changes"]["email_on_material_change"] = False
    first_version_with(tmp_path, data, ("--phone", "+47 912 34 567"))
    with_processor(data, "sentry")
    env_for(tmp_path, data)
    with served(tmp_path) as api:
        api.headers["Authorization"] = f"Bearer {new_key(api)}"
        r = api.post("/api/v1/policy/versions", json={"effective": "2027-03-09"})
        assert r.status_code == 201, r.text
        assert (r.json()["notices_queued"], r.json()["notices_unreachable"]) == (0, 0)
        del api.headers["Authorization"]
        assert "Not enforced" not in dashboard_policy(api)

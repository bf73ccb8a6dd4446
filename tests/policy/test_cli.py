"""``personvern policy``, run as a person would: render without a database, publish with a
notice period, list, show and diff versions, and bad input answered with exit 2."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from policy.support import EXAMPLES, lawful_data, run_cli, to_text

Env = Callable[[dict[str, Any]], dict[str, str]]
NOW = "2027-03-01T12:00:00+01:00"


def no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr


def lawful_file(tmp_path: Path) -> str:
    """Teoritentamen with its check errors put right, as a file."""
    path = tmp_path.parent / f"{tmp_path.name}-lawful.yaml"
    path.write_text(to_text(lawful_data()), encoding="utf-8")
    return str(path)


def test_render_needs_only_the_manifest(tmp_path: Path) -> None:
    manifest = lawful_file(tmp_path)
    out = run_cli("policy", "render", "--manifest", manifest, "--lang", "en", "--format", "md",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("# Privacy policy for Teoritentamen.no")
    assert not list(tmp_path.iterdir()), "render created files (a database?)"
    target = tmp_path / "personvern.html"
    out = run_cli("policy", "render", "-m", manifest, "--out", str(target), cwd=tmp_path)
    assert out.returncode == 0 and out.stdout == ""
    assert target.read_text("utf-8").startswith('<!DOCTYPE html>\n<html lang="nb">')


def test_render_bad_input_exits_2(tmp_path: Path) -> None:
    manifest = lawful_file(tmp_path)
    for args, says in (
        (["--lang", "de"], "'de' is not one of 'nb', 'en'"),
        (["--format", "pdf"], "'pdf' is not one of 'html', 'md'"),
        (["--out", str(tmp_path / "no" / "such" / "dir.html")], "cannot write"),
    ):
        out = run_cli("policy", "render", "-m", manifest, *args)
        assert out.returncode == 2, (args, out.stderr)
        assert says in out.stderr
        no_traceback(out.stderr)


def test_render_refuses_an_incomplete_manifest(tmp_path: Path) -> None:
    out = run_cli("policy", "render", "-m", str(EXAMPLES / "vekstly.yaml"))
    assert out.returncode == 2 and out.stdout == ""
    assert "mandatory elements are missing" in out.stderr
    assert "purposes[10].id: purpose 'cookies' has no legal basis" in out.stderr
    no_traceback(out.stderr)
    draft = run_cli("policy", "render", "-m", str(EXAMPLES / "vekstly.yaml"), "--draft",
                    "--format", "md")
    assert draft.returncode == 0
    assert draft.stdout.startswith("# Utkast: Personvernerklæring for Vekstly")
    # Marked on every section, so no page of a printout or excerpt passes for the real one.
    sections = draft.stdout.split("\n## ")[2:]
    assert sections and all("*UTKAST – ikke publisert*" in s for s in sections)


def test_publish_versions_show_and_diff(cli_env: Env) -> None:
    data = lawful_data()
    env = cli_env(data)
    early = run_cli("policy", "publish", "--effective", "2027-03-05", "--now", NOW, env=env)
    assert early.returncode == 2
    assert "the earliest allowed date is 2027-03-08" in early.stderr
    no_traceback(early.stderr)
    listed = run_cli("policy", "versions", "--json", "--now", NOW, env=env)
    assert json.loads(listed.stdout) == []          # nothing was published

    first = run_cli("policy", "publish", "--effective", "2027-03-08", "--now", NOW, "--json",
                    env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["number"] == 1

    subject = run_cli("subject", "add", "--email", "kari@example.no", "--now", NOW, env=env)
    assert subject.returncode == 0, subject.stderr
    data["recipients"].append({
        "id": "sentry", "name": "Sentry", "role": "processor", "country": "US",
        "service": {"nb": "Feilrapporter", "en": "Error reports"},
        "transfer": {"mechanism": "scc"}, "dpa_signed": True})
    data["purposes"][0]["recipients"] = ["sentry"]
    data.pop("no_third_country_transfers")   # no longer true (PV065)
    env = cli_env(data)
    preview = run_cli("policy", "diff", "1", "current", "--now", NOW, env=env)
    assert preview.returncode == 0, preview.stderr
    assert ("[material] ny databehandler: Sentry (USA, standardkontraktsklausuler) / "
            "new processor: Sentry (USA, standard contractual clauses)") in preview.stdout

    second = run_cli("policy", "publish", "--effective", "2027-03-09", "--now", NOW, env=env)
    assert second.returncode == 0, second.stderr
    assert "published policy version 2 (material)" in second.stdout
    assert "queued 1 e-mail notices" in second.stdout

    listed = run_cli("policy", "versions", "--now", "2027-03-10T12:00:00+01:00", env=env)
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert len(lines) == 2 and "<- in force" in lines[1] and "material" in lines[1]

    shown = run_cli("policy", "show", "1", "--lang", "en", "--format", "md", env=env)
    assert shown.returncode == 0
    assert shown.stdout.startswith("# Privacy policy for Teoritentamen.no\n\n*Version 1 · ")
    assert "Sentry" not in shown.stdout

    compared = run_cli("policy", "diff", "1", "2", "--json", env=env)
    assert compared.returncode == 0
    body = json.loads(compared.stdout)
    assert body["material"] is True and body["changes"][0]["kind"] == "recipient_added"

    outbox = run_cli("mail", "list", "--status", "queued", "--json", env=env)
    assert [m["to"] for m in json.loads(outbox.stdout)] == ["kari@example.no"]


def test_unknown_versions_exit_2(cli_env: Env) -> None:
    env = cli_env(lawful_data())
    for args in (["diff", "1", "2"], ["diff", "x", "current"], ["show", "3"], ["show", "0"]):
        out = run_cli("policy", *args, env=env)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert out.stderr.startswith("error: ")
        no_traceback(out.stderr)
    out = run_cli("policy", "diff", "7", "current", env=env)
    assert "there is no policy version 7; no version has been published yet" in out.stderr


def test_publish_bad_effective_date(cli_env: Env) -> None:
    env = cli_env(lawful_data())
    for value in ("next week", "2027-13-01", "2027-03-20T10:00"):
        out = run_cli("policy", "publish", "--effective", value, "--now", NOW, env=env)
        assert out.returncode == 2, (value, out.stderr)
        no_traceback(out.stderr)


def test_render_refuses_a_manifest_with_check_errors() -> None:
    """Issue 12: seed 000's consent a child cannot refuse is not published as policy."""
    out = run_cli("policy", "render", "-m", str(EXAMPLES / "snapmentor.yaml"))
    assert out.returncode == 2 and out.stdout == ""
    assert "`personvern check` reports" in out.stderr
    # Each error as `check` prints it: file:line:column, rule, message, source.
    assert re.search(r"snapmentor\.yaml:\d+:5: PV013 children use the service, but purpose "
                     r"'sessions' asks for consent", out.stderr), out.stderr
    no_traceback(out.stderr)
    draft = run_cli("policy", "render", "-m", str(EXAMPLES / "snapmentor.yaml"), "--draft")
    assert draft.returncode == 0
    assert "<title>Utkast: Personvernerklæring for SnapMentor" in draft.stdout
    assert '<div class="draft-mark">UTKAST – ikke publisert</div>' in draft.stdout


def test_publish_with_check_errors_is_refused_and_the_old_version_stays(cli_env: Env) -> None:
    data = lawful_data()
    env = cli_env(data)
    first = run_cli("policy", "publish", "--effective", "2027-03-08", "--now", NOW, env=env)
    assert first.returncode == 0, first.stderr
    data["recipients"][0].pop("dpa_signed", None)
    data["recipients"][0]["role"] = "processor"
    data["recipients"][0]["country"] = "US"              # PV006: no safeguard named
    data["recipients"][0].pop("transfer", None)
    env = cli_env(data)
    refused = run_cli("policy", "publish", "--effective", "2027-03-20", "--now", NOW, env=env)
    assert refused.returncode == 2 and refused.stdout == ""
    assert re.search(r"personvern\.yaml:\d+:\d+: recipients\[0\]\.country: Nets processes "
                     r"data in US .*PV006", refused.stderr), refused.stderr
    no_traceback(refused.stderr)
    listed = run_cli("policy", "versions", "--json", "--now", "2027-03-21T12:00:00+01:00",
                     env=env)
    versions = json.loads(listed.stdout)
    assert [(v["number"], v["in_force"]) for v in versions] == [(1, True)]

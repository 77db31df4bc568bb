"""The conformance kit: a clean pass on the mock, and it catches every deliberately broken variant."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from conformance import ConformanceError, KosmosTarget, Target, TenDukeTarget, run
from conformance.core import CHECKS
from conformance.mock_target import provision
from mockserver import MockServer, create_app
from mockserver.cli import main
from mockserver.faults import FAULTS
from tests.conftest import rsa_pair

# Which check must catch each fault (it may catch more; this one must be among the failures).
CATCHES = {
    "skip_license_check": "kosmos.unknown_license_refused",
    "accept_stale_request_ids": "kosmos.stale_request_id_refused",
    "accept_replays": "kosmos.replayed_request_id_refused",
    "ignore_tenant": "kosmos.other_tenant_refused",
    "accept_event_without_type": "kosmos.event_without_type_refused",
    "server_error_on_malformed_header": "kosmos.malformed_headers_no_server_error",
    "accept_alg_none": "tenduke.alg_none_refused",
    "verify_hs256": "tenduke.hs256_with_public_key_refused",
    "accept_any_rsa_key": "tenduke.unregistered_key_refused",
    "put_returns_body": "tenduke.signed_put_accepted",
    "drop_newer_instruction": "tenduke.round_trip",
    "paging_repeats_event": "tenduke.round_trip",
    "accept_expired_tokens": "tenduke.expired_token_refused",
    "ignore_feed_claim": "tenduke.wrong_feed_token_refused",
}


def test_every_fault_has_an_expected_check() -> None:
    assert set(CATCHES) == set(FAULTS)
    assert len(FAULTS) >= 12
    assert set(CATCHES.values()) <= set(CHECKS)


def test_an_unknown_fault_name_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="unknown FAULTS \\['accept_everything'\\]"):
        create_app({"DATABASE": ":memory:", "FAULTS": ("accept_alg_none", "accept_everything")})
    assert create_app({"DATABASE": ":memory:", "FAULTS": ("accept_alg_none",)}).config["FAULTS"] == ("accept_alg_none",)


def test_clean_pass_on_the_unmodified_mock(tmp_path: Path) -> None:
    with MockServer() as server:
        report = run(provision(server), max_examples=10)
    assert report.passed, report.table()
    assert {r.status for r in report.results} == {"passed"}
    junit, markdown = report.write(tmp_path)
    suite = ET.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures")) == (str(len(CHECKS)), "0")
    assert markdown.read_text().startswith("# Conformance report: PASSED")


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_the_kit_catches_each_broken_variant(fault: str) -> None:
    api = CHECKS[CATCHES[fault]].api
    named = [n for n, c in CHECKS.items() if c.api == api and not n.endswith("schema_conformance")]
    with MockServer(config={"FAULTS": (fault,)}) as server:
        report = run(provision(server), apis=[api], names=named)
    failed = {r.name for r in report.failed}
    assert CATCHES[fault] in failed, report.table()
    caught = next(r for r in report.results if r.name == CATCHES[fault])
    assert caught.detail


def accept_anything_app() -> Flask:
    """A server that answers 200 to everything: the kit must fail it on security, not crash."""
    app = Flask("anything")

    @app.route("/", defaults={"path": ""}, methods=["GET", "PUT", "POST", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "PUT", "POST", "DELETE"])
    def anything(path: str) -> tuple[str, int]:
        return "", 200

    return app


def test_a_server_that_accepts_anything_fails_on_security() -> None:
    pair = rsa_pair()
    target = Target(
        "http://anything",
        KosmosTarget("license", "t", "c", scoped=True, disabled_license="disabled"),
        TenDukeTarget(pair.private_pem, "feed"),
    )
    server = make_server("127.0.0.1", 0, accept_anything_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        target.base_url = f"http://127.0.0.1:{server.server_port}"
        report = run(target, max_examples=5)
    finally:
        server.shutdown()
        server.server_close()
    failed = {r.name for r in report.failed}
    for security_check in (
        "kosmos.unknown_license_refused",
        "kosmos.replayed_request_id_refused",
        "kosmos.stale_request_id_refused",
        "kosmos.tampered_ciphertext_refused",
        "tenduke.alg_none_refused",
        "tenduke.expired_token_refused",
        "tenduke.unregistered_key_refused",
    ):
        assert security_check in failed, report.table()
    assert "kosmos.schema_conformance" in failed  # negative data accepted, undocumented answers
    assert not [r for r in report.results if r.status == "error"], report.table()


def test_unreachable_target_is_a_configuration_error() -> None:
    with MockServer() as gone:
        url = gone.url
    with pytest.raises(ConformanceError, match="cannot reach"):
        run(Target(url, KosmosTarget("l", "t", "c")), apis=["kosmos"])


def test_missing_credentials_skip_or_refuse() -> None:
    with MockServer() as server, pytest.raises(ConformanceError, match="10Duke checks need"):
        run(Target(server.url), apis=["tenduke"])
    with MockServer() as server:
        target = provision(server)
        target.kosmos.disabled_license = None  # type: ignore[union-attr]
        target.kosmos.scoped = False  # type: ignore[union-attr]
        report = run(target, apis=["kosmos"])
    skipped = {r.name: r.detail for r in report.results if r.status == "skipped"}
    assert set(skipped) == {"kosmos.disabled_license_refused", "kosmos.other_tenant_refused"}
    assert "--kosmos-disabled-license" in skipped["kosmos.disabled_license_refused"]


def test_cli_against_mock(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert (
        main(["conform", "--against-mock", "--api", "all", "--report-dir", str(tmp_path), "--max-examples", "5"]) == 0
    )
    out = capsys.readouterr().out
    assert "VERDICT: PASSED" in out
    assert "tenduke.round_trip" in out
    assert (tmp_path / "junit.xml").exists()


def test_cli_against_broken_mock_names_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--against-mock", "--api", "kosmos", "--mock-fault", "accept_replays"]) == 1
    out = capsys.readouterr().out
    assert "kosmos.replayed_request_id_refused" in out
    assert "FAILED" in out
    assert "curl -X PUT" in out


def test_cli_misconfiguration_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--target", "http://127.0.0.1:9", "--api", "kosmos"]) == 2
    assert "needs --kosmos-license" in capsys.readouterr().err
    args = ["conform", "--target", "http://127.0.0.1:9", "--api", "kosmos", "--kosmos-license", "x"]
    assert main([*args, "--tenant", "t", "--community", "c"]) == 2
    assert "cannot reach" in capsys.readouterr().err
    assert main(["conform", "--target", "http://x", "--api", "tenduke", "--tenduke-key", "/no.pem", "--feed", "f"]) == 2
    assert "cannot read key file" in capsys.readouterr().err


def test_cli_against_a_real_url(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The same kit by URL, with credentials given on the command line."""
    with MockServer() as server:
        target = provision(server)
        key = tmp_path / "client.pem"
        key.write_text(target.tenduke.private_key_pem)  # type: ignore[union-attr]
        k = target.kosmos
        assert k is not None
        code = main([
            "conform", "--target", server.url, "--api", "all",
            "--kosmos-license", k.license_key, "--tenant", k.tenant_id, "--community", k.community_id,
            "--kosmos-scoped-license", "--kosmos-disabled-license", k.disabled_license or "",
            "--tenduke-key", str(key), "--feed", "conformance-feed", "--max-examples", "5", "--seed", "1",
        ])  # fmt: skip
    assert code == 0, capsys.readouterr().out

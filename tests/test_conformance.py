"""The conformance kit: a clean pass on the mock, and it catches every deliberately broken variant."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from flask import Flask
from werkzeug.serving import make_server

from conformance import ConformanceError, KosmosTarget, Report, Target, TenDukeTarget, run
from conformance.core import CHECKS
from conformance.credentials import dump_credentials, load_credentials
from conformance.mock_target import provision
from conformance.runner import selected
from eventclient import jws
from eventdouble.cli import main
from mockserver import MockServer
from tests.broken_servers import BROKEN, broken_mock
from tests.conftest import rsa_pair

# The checks that must fail on each broken variant (they may not be the only ones that fail).
CATCHES: dict[str, tuple[str, ...]] = {
    "replay_by_spelling": ("kosmos.replayed_request_id_refused",),
    "kosmos_event_json_lenient": ("kosmos.lenient_json_refused",),
    "kosmos_request_id_json_lenient": ("kosmos.lenient_json_refused",),
    "tenduke_payload_json_lenient": ("tenduke.lenient_json_refused",),
    "tenduke_jws_json_lenient": ("tenduke.lenient_json_refused",),
    "healthz_other_public_key": ("kosmos.public_key",),
    "service_directory_nested": ("kosmos.service_directory",),
    "no_requestid_echo": ("kosmos.raw_envelope_accepted",),
    "echo_request_id_as_sent": ("kosmos.raw_envelope_accepted",),
    "refuse_hex_iv": ("kosmos.hex_iv_accepted",),
    "license_cached_per_caller": (
        "kosmos.tampered_ciphertext_refused",
        "kosmos.unknown_license_refused",
        "kosmos.license_key_exact",
    ),
    "undecryptable_is_401": ("kosmos.wrong_key_refused", "kosmos.tampered_ciphertext_refused"),
    "helper_only_32_byte_keys": ("kosmos.ecdsa_helper_vectors",),
    "empty_header_401": ("kosmos.missing_header_refused",),
    "server_error_on_malformed_header": ("kosmos.malformed_headers_refused",),
    "accept_event_without_type": ("kosmos.invalid_event_refused",),
    "unsupported_media_is_400": ("kosmos.error_statuses",),
    "appid_optional": ("kosmos.request_id_fields_required",),
    "ts_string_accepted": ("kosmos.request_id_types",),
    "accept_stale_request_ids": ("kosmos.request_id_window_past",),
    "future_unbounded": ("kosmos.request_id_window_future",),
    "accept_replays": (
        "kosmos.replayed_request_id_refused",
        "kosmos.replay_across_key_pairs",
        "kosmos.replay_across_licenses",
    ),
    "replay_per_key_pair": ("kosmos.replay_across_key_pairs",),
    "replay_per_license": ("kosmos.replay_across_licenses",),
    "skip_license_check": (
        "kosmos.unknown_license_refused",
        "kosmos.disabled_license_refused",
        "kosmos.expired_license_refused",
    ),
    "license_key_loose": ("kosmos.license_key_exact",),
    "disabled_ignored": ("kosmos.disabled_license_refused",),
    "license_cache_stale": ("kosmos.revoked_license_refused",),
    "key_ring_cache_stale": ("tenduke.revoked_key_refused",),
    "expiry_ignored": ("kosmos.expired_license_refused", "kosmos.license_expiry_boundary"),
    "expiry_two_hours_late": ("kosmos.license_expiry_boundary",),
    "plain_license_unchecked": ("kosmos.plain_license_checked",),
    "unknown_service_key_400": ("kosmos.authz_system",),
    "service_may_administer_keys": ("kosmos.authz_service",),
    "tenant_needs_community": ("kosmos.authz_tenant",),
    "community_not_checked": ("kosmos.authz_community",),
    "ignore_tenant": ("kosmos.authz_community", "kosmos.authz_tenant", "kosmos.tenant_isolation"),
    "query_ignores_tenant": ("kosmos.tenant_isolation",),
    "query_ignores_community": ("kosmos.community_isolation",),
    "event_ts_in_seconds": ("kosmos.stored_fields",),
    "page_index_from_one": ("kosmos.query_paging",),
    "to_exclusive": ("kosmos.query_time_bounds",),
    "total_ignores_event_name": ("kosmos.query_event_name",),
    "query_bounds_unchecked": ("kosmos.query_time_bounds", "kosmos.reports_metrics"),
    "from_in_future_accepted": ("kosmos.query_time_bounds", "kosmos.reports_metrics"),
    "events_query_says_or_equal": ("kosmos.query_time_bounds",),
    "reports_healthz_events_key": ("kosmos.reports_service_key",),
    "reports_refusals_in_events_format": ("kosmos.reports_refusal_envelope", "kosmos.reports_metrics"),
    "reports_helper_garbles": ("kosmos.reports_ecdsa_helper_vectors",),
    "unknown_metric_is_zero": ("kosmos.reports_metrics",),
    "sd_without_licenses": ("kosmos.discovery",),
    "helper_decodes_leniently": ("kosmos.ecdsa_helper_non_utf8",),
    "forbidden_before_replay": ("kosmos.replay_before_forbidden",),
    "ts_in_ms_taken": ("kosmos.request_id_ts_seconds",),
    "ids_case_insensitive": ("kosmos.ids_case_sensitive",),
    "nesting_off_by_one": ("kosmos.nesting_limit_exact",),
    "kid_only_key_tried": ("tenduke.kid_is_a_hint",),
    "no_allow_on_405": ("kosmos.method_not_allowed", "tenduke.method_not_allowed"),
    "media_type_exact": ("kosmos.media_type_parameters", "tenduke.media_type_parameters"),
    "chunked_unbounded": ("kosmos.chunked_over_limit", "tenduke.chunked_over_limit"),
    "header_total_unbounded": ("kosmos.header_fields_too_large",),
    "bearer_case_sensitive": ("tenduke.bearer_scheme_case",),
    "tokens_rs256_only": ("tenduke.token_algorithms",),
    "plain_license_exists_only": ("kosmos.plain_license_states",),
    "metrics_count_as_text": ("kosmos.reports_metrics", "kosmos.schema_conformance"),
    "environment_says_secp256k1_on_p256": ("kosmos.plain_license_checked",),
    "community_info_default_only": ("kosmos.discovery",),
    "reset_keeps_key": ("kosmos.service_key_reset",),
    "put_returns_body": ("tenduke.signed_put_accepted",),
    "accept_alg_none": ("tenduke.alg_not_allowed_refused",),
    "verify_hs256": ("tenduke.alg_not_allowed_refused",),
    "accept_any_rsa_key": (
        "tenduke.unregistered_key_refused",
        "tenduke.tampered_jws_refused",
        "tenduke.header_keys_not_trusted",
    ),
    "registered_weak_keys_used": ("tenduke.registered_weak_key_refused",),
    "registered_ec_keys_used": ("tenduke.registered_ec_key_refused",),
    "first_key_only": ("tenduke.second_client_accepted",),
    "trust_embedded_jwk": ("tenduke.header_keys_not_trusted",),
    "crit_wrong_status": ("tenduke.crit_refused",),
    "batch_not_atomic": ("tenduke.batch_is_atomic",),
    "event_id_overwritten": ("tenduke.event_id",),
    "event_received_microseconds": ("tenduke.event_received",),
    "empty_batch_accepted": ("tenduke.envelope_refused",),
    "no_event_limit": ("tenduke.limits",),
    "drop_newer_instruction": ("tenduke.round_trip",),
    "paging_repeats_event": ("tenduke.feed_bounds_exclusive",),
    "newest_ignored": ("tenduke.feed_newest",),
    "counts_unknown": ("tenduke.feed_instructions",),
    "object_feed_by_type": ("tenduke.object_feed",),
    "ignore_feed_claim": ("tenduke.feed_claim_exact", "tenduke.token_refusals"),
    "claim_prefix": ("tenduke.feed_claim_exact",),
    "accept_expired_tokens": ("tenduke.token_times",),
    "wrong_feed_401": ("tenduke.token_refusals", "tenduke.feed_claim_exact"),
    "bad_query_is_200": ("tenduke.bad_query_refused",),
    "tenant_ids_one_longer": ("kosmos.input_bounds",),
    "source_ids_one_shorter": ("tenduke.input_bounds",),
    "feed_uri_without_query": ("tenduke.feed_uri",),
    "license_message_generic": ("kosmos.refusal_messages",),
    "header_control_characters_passed": ("kosmos.header_control_characters", "tenduke.header_control_characters"),
    "tenduke_headers_unbounded": ("tenduke.header_fields_too_large",),
    "body_limit_off_by_one": ("kosmos.body_limit_exact", "tenduke.body_limit_exact"),
    "header_count_refusal_html": ("kosmos.too_many_header_fields", "tenduke.too_many_header_fields"),
    "head_with_body": ("kosmos.head_has_no_body", "tenduke.head_has_no_body"),
}


def test_every_check_fails_on_a_server_that_breaks_its_rule() -> None:
    assert set(CATCHES) == set(BROKEN)
    caught = {name for names in CATCHES.values() for name in names}
    assert caught <= set(CHECKS)
    assert {name for name, c in CHECKS.items() if c.family != "schema"} == {
        n for n in caught if CHECKS[n].family != "schema"
    }


def test_clean_pass_on_the_unmodified_mock(tmp_path: Path) -> None:
    with MockServer() as server:
        report = run(provision(server.url), max_examples=10)
    assert report.passed, report.table()
    assert {r.status for r in report.results} == {"passed"}
    junit, markdown, page, *_machine = report.write(tmp_path)  # then SARIF, CTRF, the JSON summary
    suite = ET.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures")) == (str(len(CHECKS)), "0")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["family kosmos: authorisation"] == "exercised"
    assert properties["operation tenduke.putEvents"].endswith("failed 0, skipped 0")
    assert markdown.read_text().startswith("# Conformance report: PASSED")
    assert "Conformance report: PASSED" in page.read_text() and "<script" not in page.read_text()
    assert all(state == "exercised" for state, _ in report.by_family().values())
    assert report.by_operation()["kosmos.createEvent"]["failed"] == 0


def test_a_p256_mock_passes_the_whole_kit() -> None:
    """EC_CURVE_NAME=prime256v1: the kit finds the curve from the service key, and the mock says it in /environment."""
    with MockServer(config={"EC_CURVE_NAME": "P-256"}) as server:
        report = run(provision(server.url), apis=["kosmos"], max_examples=10)
    assert report.passed, report.table()
    assert {r.status for r in report.results} == {"passed"}


CRASH_IS_THE_BUG = {
    "kosmos_event_json_lenient",  # Python's json overflows on deep nesting
    "kosmos_request_id_json_lenient",
    "tenduke_payload_json_lenient",
    "tenduke_jws_json_lenient",
    "echo_request_id_as_sent",  # a request id with a newline is no valid header: the stored event's answer fails
    "server_error_on_malformed_header",  # the variant is a 5xx
}
"""Variants whose bug shows as a 5xx; every other variant must be caught without the mock crashing."""


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_the_kit_catches_each_broken_variant(broken: str) -> None:
    """Only the checks expected to fail are run: each must fail, with a reason, and none may crash."""
    expected = CATCHES[broken]
    with broken_mock(broken) as server:
        report = run(provision(server.url), apis=["kosmos", "tenduke"], names=list(expected))
        crashed = [f"{e['method']} {e['path']}" for e in server.journal(100_000) if e["status"] >= 500]
    # a variant is caught for its own rule, not because the patch itself crashes the mock
    assert not crashed or broken in CRASH_IS_THE_BUG, crashed[:5]
    outcome = {r.name: r for r in report.results}
    assert {name: outcome[name].status for name in expected} == dict.fromkeys(expected, "failed"), report.table()
    assert all(outcome[name].detail for name in expected)


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
        KosmosTarget("t", "c", {"community": "license", "disabled": "disabled", "system": "system"}),
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
        "kosmos.request_id_window_past",
        "kosmos.tampered_ciphertext_refused",
        "tenduke.alg_not_allowed_refused",
        "tenduke.token_times",
        "tenduke.unregistered_key_refused",
    ):
        assert security_check in failed, report.table()
    assert "kosmos.schema_conformance" in failed  # negative data accepted, undocumented answers
    assert not [r for r in report.results if r.status == "error"], report.table()


def test_unreachable_target_is_a_configuration_error() -> None:
    with MockServer() as gone:
        url = gone.url
    with pytest.raises(ConformanceError, match="cannot reach"):
        run(Target(url, KosmosTarget("t", "c", {"community": "l"})), apis=["kosmos"])


def test_missing_credentials_skip_and_name_the_key() -> None:
    with MockServer() as server, pytest.raises(ConformanceError, match="10Duke checks need"):
        run(Target(server.url), apis=["tenduke"])
    with MockServer() as server:
        target = provision(server.url)
        assert target.kosmos is not None
        del target.kosmos.licenses["disabled"]
        target.allow_destructive = False
        report = run(target, apis=["kosmos"], names=["kosmos.disabled_license_refused", "kosmos.service_key_reset",
                                                     "kosmos.unknown_license_refused"])  # fmt: skip
    skipped = {r.name: r.detail for r in report.results if r.status == "skipped"}
    assert skipped == {
        "kosmos.disabled_license_refused": "needs kosmos.licenses.disabled in the credentials file",
        "kosmos.service_key_reset": "destructive: changes the server for every user; run with --allow-destructive",
    }
    assert report.by_family()["kosmos: licenses"][0] == "partly skipped"


def test_cli_against_mock(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["conform", "--against-mock", "--report-dir", str(tmp_path), "--max-examples", "5", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "VERDICT: PASSED" in out
    code = CHECKS["tenduke.round_trip"].code
    assert f"/{len(CHECKS)}] PASSED  {code:15} tenduke.round_trip" in out  # each result as it finishes, with its code
    assert "per operation" in out and "rule families" in out
    assert {p.name for p in tmp_path.iterdir()} == {
        "junit.xml", "report.md", "report.html", "report.sarif", "ctrf.json", "summary.json"
    }  # fmt: skip


def test_cli_misconfiguration_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["conform", "--target", "http://127.0.0.1:9"]) == 2
    assert "--credentials FILE" in capsys.readouterr().err
    assert main(["conform", "--target", "http://127.0.0.1:9", "--credentials", str(tmp_path / "none.yaml")]) == 2
    assert "cannot read credentials file" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("kosmos: {tenant: t, community: c, licenses: {root: x}}\n")
    assert main(["conform", "--target", "http://127.0.0.1:9", "--credentials", str(tmp_path / "bad.yaml")]) == 2
    assert "kosmos.licenses takes the roles" in capsys.readouterr().err
    (tmp_path / "ok.yaml").write_text("kosmos: {tenant: t, community: c, licenses: {community: x}}\n")
    assert main(["conform", "--target", "http://127.0.0.1:9", "--credentials", str(tmp_path / "ok.yaml")]) == 2
    assert "cannot reach" in capsys.readouterr().err


def test_credentials_file_round_trip(tmp_path: Path) -> None:
    with MockServer() as server:
        target = provision(server.url, expiring_in=30)
        loaded = load_credentials(dump_credentials(target, tmp_path), server.url)
    assert loaded.kosmos == target.kosmos
    assert loaded.tenduke == target.tenduke
    assert (tmp_path / "weak_key.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_the_kit_takes_a_tenant_and_community(capsys: pytest.CaptureFixture[str]) -> None:
    with MockServer() as server:
        target = provision(server.url, tenant="acme", community="east")
        assert (target.kosmos.tenant, target.kosmos.community) == ("acme", "east")  # type: ignore[union-attr]
        licenses = server.backend.kosmos.licenses()
        scoped = {(r.tenant_id, r.community_id) for r in licenses if r.auth_level == "community"}
        assert scoped == {("acme", "east")}
    args = ["conform", "--against-mock", "--api", "kosmos", "--tenant", "acme", "--community", "east", "--quiet"]
    assert main([*args, "--check", "kosmos.stored_fields", "--check", "kosmos.community_isolation"]) == 0
    assert "VERDICT: PASSED" in capsys.readouterr().out


def test_a_target_that_does_not_answer_is_reported_with_the_request() -> None:
    """The report names the request the target did not answer, so QA see which of a check's requests it was."""
    from conformance.core import Context, RegisteredCheck, run_check

    def refused_connection(ctx: Context) -> None:
        ctx.http.put(ctx.url("/events/tenant/t/community/c/event/E_GONE"), content=b"{}")

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    check = RegisteredCheck("x.gone", "kosmos", "a check whose target hangs up", refused_connection)
    with httpx.Client(transport=httpx.MockTransport(unreachable)) as http:
        result = run_check(check, Context(Target("http://target.example"), http))
    assert result.status == "error"
    assert result.detail == (
        "the target did not answer PUT http://target.example/events/tenant/t/community/c/event/E_GONE:"
        " Server disconnected without sending a response."
    )


def test_the_schema_phase_sends_no_case_that_another_route_answers() -> None:
    """Issue 31's false alarm: a too-long eventSourceId holding '/' is a valid object feed path, not a refusal."""
    import schemathesis

    from conformance.schema_engine import sendable
    from mockserver.spec import SPEC_DIR

    schema = schemathesis.openapi.from_path(SPEC_DIR / "tenduke-events.yaml")
    [operation] = [r.ok() for r in schema.get_all_operations() if r.ok().path == "/get/{eventSourceId}"]
    split = operation.Case(path_parameters={"eventSourceId": "u/" + "x" * 499})  # 501 characters, "over 500"
    with MockServer() as server:
        pair = rsa_pair()
        server.register_tenduke_client(pair.public_pem)
        token = jws.sign_bearer({"*": True, "exp": int(time.time()) + 60}, pair.private_pem)
        response = split.call(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200  # what a correct server answers: the object feed u/xxx...
    assert not sendable(split)
    assert not sendable(operation.Case(path_parameters={"eventSourceId": ".."}))
    assert sendable(operation.Case(path_parameters={"eventSourceId": "a%41b c" + "x" * 500}))  # '%' is escaped


# --- issue 31: stable rule codes --------------------------------------------------------------------------


RULE_CODES = Path(__file__).parent / "data" / "rule_codes.json"
"""Every code ever given, with its check: a code keeps its meaning and is never reused (add, never change)."""


def test_every_check_has_a_stable_code_and_none_changed_meaning() -> None:
    import json

    frozen = json.loads(RULE_CODES.read_text())
    now = {c.code: name for name, c in CHECKS.items()}
    assert len(now) == len(CHECKS)  # one code per check
    changed = {code: (name, now.get(code)) for code, name in frozen.items() if now.get(code) != name}
    assert not changed, f"codes that changed meaning or disappeared: {changed}"
    assert set(now) <= set(frozen), f"new codes: add them to {RULE_CODES.name}: {sorted(set(now) - set(frozen))}"


@pytest.mark.parametrize("code", sorted(c.code for c in CHECKS.values()))
def test_explain_prints_each_rule_with_its_source(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--explain", code]) == 0
    out = capsys.readouterr().out
    registered = next(c for c in CHECKS.values() if c.code == code)
    assert out.startswith(f"{code}  {registered.name}")
    assert registered.description in out and registered.evidence in out and registered.severity in out


def test_explain_refuses_an_unknown_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--explain", "KOS-NOPE-999"]) == 2
    assert "--list" in capsys.readouterr().err


def test_the_docs_list_every_rule_as_the_kit_does() -> None:
    from conformance.cli import rules_markdown

    assert (Path(__file__).parents[1] / "docs" / "rules.md").read_text() == rules_markdown(), (
        "run `eventdouble conform --rules-markdown > docs/rules.md`"
    )


@pytest.mark.parametrize("variant", ["accept_replays", "ignore_tenant"])
def test_checks_run_at_once_give_the_verdicts_they_give_one_by_one(variant: str) -> None:
    names = [n for n, c in CHECKS.items() if c.api == "kosmos" and c.family != "schema" and not c.destructive]
    verdicts = []
    for workers in (1, 4):
        with broken_mock(variant) as server:
            report = run(provision(server.url), apis=["kosmos"], names=names, workers=workers)
        verdicts.append({r.name: r.status for r in report.results})
        assert [r.name for r in report.results] == selected(["kosmos"], names)  # the same order either way
    assert verdicts[0] == verdicts[1]
    assert "failed" in verdicts[0].values()


@pytest.mark.parametrize("broken", [None, "license_cache_stale", "key_ring_cache_stale", "metrics_count_as_text"])
def test_a_concurrent_run_gives_the_verdicts_of_a_sequential_one(
    broken: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same checks, seed and examples, one by one and in child processes: the same verdicts, in the same order.

    The variants break rules whose checks make credentials on the fly in a child (a license, a client
    key, through the mock's admin API) or run in the schema phase's own process.
    """
    from conformance import lane

    children: list[object] = []
    start = lane.start
    monkeypatch.setattr(lane, "start", lambda *args: children.append(start(*args)) or children[-1])
    with broken_mock(broken) if broken else MockServer() as server:
        target = provision(server.url)
        sequential = run(target, max_examples=3, seed=5)
        assert not children
        concurrent = run(target, max_examples=3, seed=5, workers=4)
    assert len(children) == 2 and all(children)  # the schema phase's process and the other checks' one

    def verdicts(report: Report) -> list[tuple[str, str]]:
        return [(r.code, r.status) for r in report.results]

    assert verdicts(concurrent) == verdicts(sequential)
    assert bool(sequential.failed) == bool(broken), sequential.table()


def test_when_no_child_process_can_run_the_checks_run_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    names = ["kosmos.public_key", "kosmos.schema_conformance", "tenduke.round_trip"]
    with MockServer() as server:
        target = provision(server.url)
        monkeypatch.setattr("sys.executable", "/bin/false")
        report = run(target, names=names, max_examples=2, workers=4)
    assert [(r.name, r.status) for r in report.results] == [
        (n, "passed") for n in sorted(names, key=lambda n: CHECKS[n].code)
    ]
    assert "run in this process" in caplog.text  # the child stops at once, or before it reports

"""Schema conformance: every operation of each spec, positive and negative cases, with schemathesis.

Each generated case gets fresh, valid credentials just before it is sent, and is signed over the
exact bytes sent (see :mod:`conformance.schema_engine`, imported when a schema check runs: listing
or explaining checks does not load schemathesis).
"""

from __future__ import annotations

from conformance.core import Context, SkipCheck, check


def _run_spec(ctx: Context, spec_name: str) -> None:
    from conformance.schema_engine import run_spec

    run_spec(ctx, spec_name)


@check(
    "kosmos.schema_conformance",
    "kosmos",
    "every operation: no 5xx, documented statuses and bodies, negative data refused",
    family="schema",
    operations=(
        "getHealthz",
        "getPublicKeys",
        "getServiceKeys",
        "resetServiceKey",
        "ecdsaHelper",
        "getEnvironment",
        "getServiceDirectory",
        "createEvent",
        "queryEvents",
        "getReportsHealthz",
        "getReportsPublicKeys",
        "reportsEcdsaHelper",
        "queryMetrics",
        "getCaasServiceDirectory",
        "fetchCommunityInfo",
    ),
    needs=("kosmos.licenses.community|tenant|service|system",),
)
def kosmos_schema_conformance(ctx: Context) -> None:
    if ctx.target.kosmos is None:
        raise SkipCheck("no 1Kosmos credentials given")
    _run_spec(ctx, "kosmos-events")


@check(
    "tenduke.schema_conformance",
    "tenduke",
    "every operation: no 5xx, documented statuses and bodies, negative data refused",
    family="schema",
    operations=("putEvents", "getSourceFeed", "getObjectFeed"),
    needs=("tenduke.client_key",),
)
def tenduke_schema_conformance(ctx: Context) -> None:
    if ctx.target.tenduke is None:
        raise SkipCheck("no 10Duke credentials given")
    _run_spec(ctx, "tenduke-events")

"""`tradeswarm policy …`: validate Cedar policies, decide one request, run Cedar's test suites."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tradeswarm.cli.common import EXIT_CANNOT_RUN, cli_errors, console, err_console
from tradeswarm.core.errors import ConfigurationError, InvalidInput

policy_app = typer.Typer(help="Cedar policies: validate, evaluate, test.", no_args_is_help=True)

SchemaOption = Annotated[
    Path | None, typer.Option("--schema", help="Cedar schema (.cedarschema or JSON schema).")
]


TiersOption = Annotated[
    bool,
    typer.Option(
        "--tiers", help="Also report which compiler tier decided (see `tradeswarm.policy`)."
    ),
]


def _read(path: Path, option: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigurationError(option, str(path), f"cannot read: {exc.strerror}") from exc


def _schema(path: Path | None) -> str | None:
    return None if path is None else _read(path, "--schema")


@policy_app.command()
def validate(file: Path, schema: SchemaOption = None) -> None:
    """Parse FILE with cedarpy (and validate it against --schema); errors name line and column."""
    from tradeswarm.policy import compile_policies

    with cli_errors():
        engine = compile_policies(_read(file, "FILE"), _schema(schema))
    checked = "parsed and validated" if schema else "parsed"
    console.print(f"{file}: {len(engine.policy_ids)} policies {checked}")


@policy_app.command("eval")
def eval_request(
    policies: Annotated[Path, typer.Option("--policies", help="Cedar policy file.")],
    entities: Annotated[Path, typer.Option("--entities", help="Cedar JSON entities file.")],
    request: Annotated[str, typer.Option("--request", help="Cedar JSON request.")],
    schema: SchemaOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    tiers: TiersOption = False,
) -> None:
    """Decide one request: decision, outcome (PERMIT / DENY / REVIEW), reasons, errors."""
    from tradeswarm.policy import compile_policies

    with cli_errors():
        engine = compile_policies(_read(policies, "--policies"), _schema(schema))
        engine.count_tiers()
        try:
            parsed = json.loads(request)
        except ValueError as exc:
            raise InvalidInput("--request", request, f"not JSON: {exc}") from exc
        store = engine.prepare_entities(json.loads(_read(entities, "--entities")))
        answer = engine.is_authorized(parsed, store)
    out: dict[str, Any] = {
        "decision": answer.decision.value,
        "outcome": answer.outcome.value,
        "reasons": list(answer.reasons),
        "review_reasons": list(answer.review_reasons),
        "errors": [{"policy": e.policy_id, "message": e.message} for e in answer.errors],
    }
    if tiers:
        out["tier"] = next(iter(engine.tier_counts()))
    if as_json:
        print(json.dumps(out))
        return
    for key, value in out.items():
        console.print(f"{key}: {value}")


@policy_app.command()
def test(
    root: Annotated[Path, typer.Argument(help="Directory (or .tar.gz) of Cedar test JSONs.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    path: Annotated[str, typer.Option("--path", help="scalar, batch or both.")] = "both",
    tiers: TiersOption = False,
    batch_tiers: Annotated[
        str,
        typer.Option(
            "--batch-tiers",
            help="The batch tiers allowed, in order, ending with rows "
            "(e.g. closures,rows: never emit numpy code).",
        ),
    ] = "emit,closures,rows",
) -> None:
    """Run every Cedar integration-test file under ROOT on the compiled engine."""
    from tradeswarm.policy.compiled import checked_batch_tiers
    from tradeswarm.policy.testsuite import PATHS, run_suite

    paths = {"both": PATHS, "scalar": ("scalar",), "batch": ("batch",)}.get(path)
    with cli_errors():
        if paths is None:
            raise InvalidInput("--path", path, "expected scalar, batch or both")
        allowed = checked_batch_tiers(batch_tiers.split(","), "--batch-tiers")
        suite = run_suite(root, paths, allowed)
    for result in suite.files:
        for failure in result.failures:
            err_console.print(f"FAIL {result.path}: {failure}")
    summary: dict[str, Any] = suite.summary()
    if tiers:
        summary["tiers"] = suite.tier_counts()
    if as_json:
        print(json.dumps(summary))
    else:
        console.print(", ".join(f"{k}={v}" for k, v in summary.items()))
    if summary["failed"] or summary["requests"] == 0:
        raise typer.Exit(1 if summary["failed"] else EXIT_CANNOT_RUN)

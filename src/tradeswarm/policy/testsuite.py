"""Run Cedar's integration-test JSON files (the format of cedar-integration-tests).

Each test file names its policies, entities and schema by paths relative to the root and
lists requests with the expected ``decision``, ``reason`` (determining policy ids) and
``errors`` (ids of policies that errored). ``shouldValidate`` says whether the policies
pass validation against the schema; it is checked and reported, and the decisions are
checked either way, as Cedar's own harness does. Each file's engine counts which tier
decided its requests (``FileResult.tiers``, summed by ``SuiteResult.tier_counts``), and
``batch_tiers`` limits the batch path's tiers, so a disagreement points at one backend.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradeswarm.core.errors import ConfigurationError, TradeswarmError
from tradeswarm.policy.compiled import (
    DEFAULT_BATCH_TIERS,
    CompiledPolicySet,
    checked_batch_tiers,
    compile_policies,
)
from tradeswarm.policy.decision import Response
from tradeswarm.policy.loader import validation_errors

PATHS = ("scalar", "batch")


@dataclass
class FileResult:
    path: str
    requests: int = 0
    passed: int = 0
    failures: list[str] = field(default_factory=list)
    validation_matches: bool | None = None
    tiers: dict[str, int] = field(default_factory=dict)


@dataclass
class SuiteResult:
    files: list[FileResult] = field(default_factory=list)

    def tier_counts(self) -> dict[str, int]:
        """Which tier decided how many requests (batch: policy decisions), over every file."""
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.tiers)
        return dict(sorted(total.items()))

    @property
    def requests(self) -> int:
        return sum(f.requests for f in self.files)

    @property
    def passed(self) -> int:
        return sum(f.passed for f in self.files)

    def summary(self) -> dict[str, Any]:
        checked = [f for f in self.files if f.validation_matches is not None]
        return {
            "files": len(self.files),
            "requests": self.requests,
            "passed": self.passed,
            "failed": self.requests - self.passed,
            "files_failed": sum(1 for f in self.files if f.failures),
            "validation_checked": len(checked),
            "validation_mismatches": sum(1 for f in checked if not f.validation_matches),
        }


@contextmanager
def suite_root(root: Path) -> Iterator[Path]:
    """A directory as is, or a .tar.gz unpacked into a temporary directory."""
    if root.is_file() and root.name.endswith((".tar.gz", ".tgz")):
        with tempfile.TemporaryDirectory(prefix="cedar-tests-") as tmp:
            with tarfile.open(root) as archive:
                archive.extractall(tmp, filter="data")
            yield Path(tmp)
        return
    if not root.is_dir():
        raise ConfigurationError("ROOT", str(root), "not a directory or .tar.gz")
    yield root


def find_test_files(root: Path) -> list[Path]:
    """Every test JSON under root (an object with ``requests``), sorted."""
    found = []
    for path in sorted(root.rglob("*.json")):
        if path.name.endswith(".entities.json"):
            continue
        try:
            data = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(data, dict) and "requests" in data and "policies" in data:
            found.append(path)
    return found


def _base(root: Path, test: Path, spec: dict[str, Any]) -> Path:
    """Paths in a test file are relative to the suite root (or its parent for a tarball)."""
    for base in (root, root.parent, test.parent):
        if (base / spec["policies"]).exists():
            return base
    raise ConfigurationError("policies", spec["policies"], f"not found under {root}")


def _compare(expected: dict[str, Any], got: Response) -> str | None:
    want = (expected["decision"], sorted(expected["reason"]), sorted(expected["errors"]))
    have = (got.decision.value, sorted(got.reasons), sorted(got.error_ids))
    return None if want == have else f"expected {want}, got {have}"


def run_file(
    root: Path,
    test: Path,
    paths: tuple[str, ...] = PATHS,
    batch_tiers: Iterable[str] = DEFAULT_BATCH_TIERS,
) -> FileResult:
    spec = json.loads(test.read_text())
    result = FileResult(str(test.relative_to(root)) if test.is_relative_to(root) else str(test))
    base = _base(root, test, spec)
    text = (base / spec["policies"]).read_text()
    schema = (base / spec["schema"]).read_text() if spec.get("schema") else None
    entities = json.loads((base / spec["entities"]).read_text())
    if schema is not None and "shouldValidate" in spec:
        result.validation_matches = (not validation_errors(text, schema)) == spec["shouldValidate"]
    engine = compile_policies(text, schema, validate=False, batch_tiers=batch_tiers)
    engine.count_tiers()
    requests = spec["requests"]
    answers = {path: _answers(engine, path, requests, entities) for path in paths}
    result.tiers = engine.tier_counts()
    for i, expected in enumerate(requests):
        result.requests += 1
        problems = [
            f"{path}: {problem}"
            for path in paths
            if (problem := _check(expected, answers[path][i])) is not None
        ]
        if problems:
            result.failures.append(f"{expected.get('description', i)}: {'; '.join(problems)}")
        else:
            result.passed += 1
    return result


def _answers(
    engine: CompiledPolicySet, path: str, requests: list[dict[str, Any]], entities: Any
) -> list[Response | str]:
    """Each request's response, or the input error it raised (a string)."""
    try:
        store = engine.prepare_entities(entities)
    except TradeswarmError as exc:
        return [f"entities rejected: {exc}"] * len(requests)
    if path == "batch":
        try:
            return list(engine.is_authorized_batch(requests, store))
        except TradeswarmError:
            pass  # one bad request rejects the batch; decide one by one to say which
    out: list[Response | str] = []
    for request in requests:
        try:
            out.append(
                engine.is_authorized(request, store)
                if path == "scalar"
                else engine.is_authorized_batch([request], store)[0]
            )
        except TradeswarmError as exc:
            out.append(f"request rejected: {exc}")
    return out


def _check(expected: dict[str, Any], got: Response | str) -> str | None:
    if isinstance(got, str):
        return got
    return _compare(expected, got)


def _run_dir(
    suite: SuiteResult,
    root: Path,
    paths: tuple[str, ...],
    label: str,
    batch_tiers: tuple[str, ...],
) -> None:
    for test in find_test_files(root):
        try:
            result = run_file(root, test, paths, batch_tiers)
        except TradeswarmError as exc:
            count = len(json.loads(test.read_text()).get("requests", []))
            result = FileResult(str(test), requests=count, failures=[f"file rejected: {exc}"])
        result.path = f"{label}{result.path}"
        suite.files.append(result)


def run_suite(
    root: Path, paths: tuple[str, ...] = PATHS, batch_tiers: Iterable[str] = DEFAULT_BATCH_TIERS
) -> SuiteResult:
    """Run every test file under root (and in any .tar.gz directly in it) on the given
    paths, the batch path limited to ``batch_tiers``."""
    tiers = checked_batch_tiers(batch_tiers)
    suite = SuiteResult()
    with suite_root(root) as base:
        _run_dir(suite, base, paths, "" if base == root else f"{root.name}:", tiers)
    if root.is_dir():
        for archive in sorted(root.glob("*.tar.gz")):
            with suite_root(archive) as base:
                _run_dir(suite, base, paths, f"{archive.name}:", tiers)
    return suite

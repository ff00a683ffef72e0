"""The RFC 9162 verifiers against the transparency-dev test vectors in shared/data/merkle."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from shared_data import MERKLE_DATA
from tradeswarm.audit import ProofError, verify_consistency, verify_inclusion

DATA = MERKLE_DATA


def _vectors(kind: str) -> list[Path]:
    files = sorted((DATA / kind).glob("*/*.json"))
    if not files:
        raise FileNotFoundError(f"no {kind} vectors under {DATA}: the shared data is missing")
    return files


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(items: list[str] | None) -> list[bytes] | None:
    return None if items is None else [_b64(p) for p in items]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_the_vector_set_is_complete() -> None:
    inclusion, consistency = _vectors("inclusion"), _vectors("consistency")
    assert len(inclusion) + len(consistency) == 96
    assert sum(_load(p)["wantErr"] for p in inclusion + consistency) > 60


@pytest.mark.parametrize("path", _vectors("inclusion"), ids=_id)
def test_inclusion_vector(path: Path) -> None:
    v = _load(path)
    args = (
        _b64(v["leafHash"]),
        v["leafIdx"],
        v["treeSize"],
        _proof(v["proof"]),
        _b64(v["root"]),
    )
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _vectors("consistency"), ids=_id)
def test_consistency_vector(path: Path) -> None:
    v = _load(path)
    args = (v["size1"], v["size2"], _proof(v["proof"]), _b64(v["root1"]), _b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_proof_error_is_a_value_error() -> None:
    assert issubclass(ProofError, ValueError)

"""`tradeswarm --help` must not pay for the whole swarm: the CLI imports command
implementations inside the commands, and quant imports scipy inside the functions."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("scipy", "pandas", "talib", "sqlalchemy", "cryptography", "yaml", "sklearn", "cvxpy")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return {m.split(".")[0] for m in json.loads(out.splitlines()[-1])}


def test_importing_the_cli_loads_none_of_the_heavy_libraries() -> None:
    loaded = _modules_after("import tradeswarm.cli.main")
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_the_portfolio_and_risk_math_load_scipy_only_when_a_function_needs_it() -> None:
    loaded = _modules_after("import tradeswarm.agents.portfolio, tradeswarm.quant.risk")
    assert "scipy" not in loaded


def test_the_cli_default_scrypt_cost_is_the_keystores() -> None:
    from tradeswarm.cli.agents import DEFAULT_SCRYPT_N
    from tradeswarm.crypto.keystore import DEFAULT_SCRYPT_N as KEYSTORE_DEFAULT

    assert DEFAULT_SCRYPT_N == KEYSTORE_DEFAULT

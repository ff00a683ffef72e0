"""The last size each witness cosigned, as the audit log asks it before every cosigning."""

from __future__ import annotations

from tradeswarm.store import Store
from tradeswarm.store.audit_repo import CosignatureRow


def test_last_cosigned_is_per_witness_and_zero_for_none() -> None:
    store = Store.open(":memory:")
    try:
        assert store.audit.last_cosigned("w1") == 0
        for size, witness in ((3, "w1"), (5, "w2"), (9, "w1"), (7, "w2")):
            store.audit.add_cosignature(CosignatureRow(size, witness, f"line {size}", size))
        assert store.audit.last_cosigned("w1") == 9
        assert store.audit.last_cosigned("w2") == 7
        assert store.audit.last_cosigned("w3") == 0
        every = {(c.size, c.witness) for c in store.audit.cosignatures()}
        for name in ("w1", "w2"):
            assert store.audit.last_cosigned(name) == max(s for s, w in every if w == name)
    finally:
        store.close()

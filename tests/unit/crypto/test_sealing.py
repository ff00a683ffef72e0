"""Sealed boxes: only recipients open them; any change, move, re-attribution or stripped
recipient is refused with SealError, and malformed input never raises anything else."""

from __future__ import annotations

import msgspec
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from tradeswarm.core.errors import TradeswarmError
from tradeswarm.crypto.identity import AgentIdentity
from tradeswarm.crypto.keys import KemKey, key_id_of
from tradeswarm.crypto.registry import KeyRegistry
from tradeswarm.crypto.sealing import (
    KemKeyring,
    KemRecipient,
    SealedBox,
    SealedRecipient,
    SealError,
    SealReason,
    open_sealed,
    read_box,
    recipients_for,
    seal,
)

TOPIC = "trading.intent.created"
SENDER = "trading-agent:trading-agent-01"
SECRET = b'{"symbol":"AAPL","side":"BUY","quantity":"100"}'


def _identity(name: str, role: str, seed: bytes) -> AgentIdentity:
    return AgentIdentity.from_seed(name, role, seed * 16, created_ns=0)


RISK = _identity("risk-manager-01", "risk-manager", b"r")
AUDIT = _identity("audit-log-01", "audit-log", b"a")
OUTSIDER = _identity("order-executor-01", "order-executor", b"o")
REGISTRY = KeyRegistry([RISK.public(), AUDIT.public(), OUTSIDER.public()])
RECIPIENTS = recipients_for(REGISTRY, ["risk-manager", "audit-log"], at_ns=10)
KEYRINGS = {"risk": KemKeyring.of(RISK), "audit": KemKeyring.of(AUDIT)}
_enc = msgspec.msgpack.Encoder()


def _box(plaintext: bytes = SECRET) -> bytes:
    return seal(plaintext, sender=SENDER, topic=TOPIC, recipients=RECIPIENTS)


BOX = _box()


def _refused(box: bytes, keyring: KemKeyring | None = None, **kw: str) -> SealReason:
    with pytest.raises(SealError) as err:
        open_sealed(box, topic=kw.pop("topic", TOPIC), keyring=keyring or KEYRINGS["risk"], **kw)
    return err.value.reason


def _edit(box: bytes, **changes: object) -> bytes:
    return _enc.encode(msgspec.structs.replace(read_box(box), **changes))


def _flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


@pytest.mark.parametrize("who", ["risk", "audit"])
def test_every_recipient_opens_the_box(who: str) -> None:
    assert open_sealed(BOX, topic=TOPIC, keyring=KEYRINGS[who]) == SECRET
    assert open_sealed(BOX, topic=TOPIC, keyring=KEYRINGS[who], sender=SENDER) == SECRET


def test_the_box_names_sender_topic_and_recipient_keys_and_hides_the_plaintext() -> None:
    box = read_box(BOX)
    assert (box.version, box.sender, box.topic) == (1, SENDER, TOPIC)
    assert [(r.principal, r.key_id) for r in box.recipients] == [
        (AUDIT.principal, AUDIT.mlkem768.key_id),
        (RISK.principal, RISK.mlkem768.key_id),
    ]
    assert b"AAPL" not in BOX and len(box.ciphertext) == len(SECRET) + 16
    assert _box() != BOX  # fresh data key, nonce and encapsulations every time


def test_an_empty_plaintext_seals_and_opens() -> None:
    assert open_sealed(_box(b""), topic=TOPIC, keyring=KEYRINGS["audit"]) == b""


def test_a_non_recipient_cannot_open_it() -> None:
    assert _refused(BOX, KemKeyring.of(OUTSIDER)) is SealReason.NOT_RECIPIENT


def test_a_recipient_without_the_key_it_was_sealed_to_is_told_unknown_key() -> None:
    stranger = KemKeyring.of(AgentIdentity.generate("risk-manager-01", "risk-manager", 0))
    assert _refused(BOX, stranger) is SealReason.UNKNOWN_KEY


@pytest.mark.parametrize("field", ["ciphertext", "nonce"])
def test_any_changed_byte_of_the_payload_or_nonce_is_detected(field: str) -> None:
    value: bytes = getattr(read_box(BOX), field)
    for i in range(len(value)):
        assert _refused(_edit(BOX, **{field: _flip(value, i)})) is SealReason.TAMPERED


@pytest.mark.parametrize("part", ["wrapped_key", "kem_ct"])
def test_any_changed_byte_of_a_wrapped_key_or_kem_ciphertext_is_detected(part: str) -> None:
    entries = read_box(BOX).recipients
    mine = next(i for i, r in enumerate(entries) if r.key_id == RISK.mlkem768.key_id)
    value: bytes = getattr(entries[mine], part)
    for i in range(0, len(value), 7 if part == "kem_ct" else 1):
        changed = list(entries)
        changed[mine] = msgspec.structs.replace(entries[mine], **{part: _flip(value, i)})
        assert _refused(_edit(BOX, recipients=changed)) is SealReason.TAMPERED


def test_any_changed_byte_of_the_encoded_box_is_refused_by_every_recipient() -> None:
    for i in range(len(BOX)):
        for keyring in KEYRINGS.values():
            _refused(_flip(BOX, i), keyring)


def test_a_box_moved_to_another_topic_is_refused() -> None:
    other = "trading.risk.decision"
    assert _refused(BOX, topic=other) is SealReason.WRONG_TOPIC
    assert _refused(_edit(BOX, topic=other), topic=other) is SealReason.TAMPERED


def test_a_box_re_attributed_to_another_sender_is_refused() -> None:
    thief = "market-analyzer:market-analyzer-01"
    assert _refused(BOX, sender=thief) is SealReason.WRONG_SENDER
    assert _refused(_edit(BOX, sender=thief)) is SealReason.TAMPERED
    assert _refused(_edit(BOX, sender=thief), sender=thief) is SealReason.TAMPERED


def test_stripping_adding_reordering_or_renaming_a_recipient_is_refused() -> None:
    audit, risk = read_box(BOX).recipients
    extra = seal(
        b"x",
        sender=SENDER,
        topic=TOPIC,
        recipients=recipients_for(REGISTRY, ["order-executor"], at_ns=10),
    )
    added = read_box(extra).recipients[0]
    renamed = msgspec.structs.replace(audit, principal="audit-log:someone-else")
    for entries in ([risk], [audit, risk, added], [risk, audit], [renamed, risk]):
        assert _refused(_edit(BOX, recipients=entries)) is SealReason.TAMPERED
    assert _refused(_edit(BOX, recipients=[audit, risk, added]), KemKeyring.of(OUTSIDER)) is (
        SealReason.TAMPERED
    )


def test_a_non_canonical_or_other_version_box_is_refused() -> None:
    box = read_box(BOX)
    longer = msgspec.msgpack.encode([*msgspec.to_builtins(box), 0])
    assert _refused(longer) is SealReason.MALFORMED
    assert _refused(_edit(BOX, version=2)) is SealReason.UNSUPPORTED_VERSION
    assert _refused(_edit(BOX, recipients=[])) is SealReason.MALFORMED
    assert _refused(_edit(BOX, recipients=[box.recipients[1]] * 2)) is SealReason.MALFORMED


def test_every_truncation_is_malformed() -> None:
    for n in range(len(BOX)):
        assert _refused(BOX[:n]) is SealReason.MALFORMED


@given(st.binary(max_size=4096))
def test_random_bytes_raise_seal_error_only(data: bytes) -> None:
    _refused(data)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=40)
    | st.binary(max_size=1100),
    lambda inner: st.lists(inner, max_size=6),
    max_leaves=20,
)


@given(st.lists(_values, min_size=6, max_size=6))
def test_random_arrays_of_six_raise_seal_error_only(fields: list[object]) -> None:
    _refused(msgspec.msgpack.encode(fields))


@given(st.integers(0, len(BOX) - 1), st.binary(min_size=1, max_size=8))
def test_random_splices_into_a_real_box_raise_seal_error_only(at: int, junk: bytes) -> None:
    spliced = BOX[:at] + junk + BOX[at + len(junk) :]
    if spliced != BOX:
        for keyring in KEYRINGS.values():
            _refused(spliced, keyring)


def test_seal_error_is_a_tradeswarm_error_with_a_reason() -> None:
    with pytest.raises(TradeswarmError, match="not a recipient"):
        open_sealed(BOX, topic=TOPIC, keyring=KemKeyring.of(OUTSIDER))


def test_sealing_refuses_no_recipients_a_repeated_key_or_a_signing_key() -> None:
    with pytest.raises(SealError) as err:
        seal(b"x", sender=SENDER, topic=TOPIC, recipients=[])
    assert err.value.reason is SealReason.NO_RECIPIENTS
    with pytest.raises(SealError) as err:
        seal(b"x", sender=SENDER, topic=TOPIC, recipients=[RECIPIENTS[0]] * 2)
    assert err.value.reason is SealReason.DUPLICATE_KEY
    ed = next(k for k in RISK.public().keys if k.algorithm == "ed25519")
    with pytest.raises(SealError) as err:
        seal(b"x", sender=SENDER, topic=TOPIC, recipients=[KemRecipient(RISK.principal, ed)])
    assert err.value.reason is SealReason.BAD_KEY
    bad = msgspec.structs.replace(RECIPIENTS[0].key, public_key=b"\x00" * 5)
    with pytest.raises(SealError) as err:
        seal(b"x", sender=SENDER, topic=TOPIC, recipients=[KemRecipient(RISK.principal, bad)])
    assert err.value.reason is SealReason.BAD_KEY


# -- the outside oracle: the documented format, read and written with msgpack and the
# -- cryptography primitives directly


def _oracle_aads(sender: str, topic: str, entries: list[list[object]]) -> tuple[bytes, bytes]:
    """(wrap AAD, payload AAD) as the module docstring defines them."""
    msgpack = pytest.importorskip("msgpack")
    heads = [e[:3] for e in entries]
    wrap: bytes = b"tradeswarm/v1/seal-key\x00" + msgpack.packb([1, sender, topic, heads])
    payload: bytes = b"tradeswarm/v1/seal\x00" + msgpack.packb([1, sender, topic, entries])
    return wrap, payload


def _oracle_kek(secret: bytes, key_id: str) -> bytes:
    info = b"tradeswarm/v1/seal/" + key_id.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def test_a_box_decrypts_by_hand_from_the_documented_format() -> None:
    msgpack = pytest.importorskip("msgpack")
    version, sender, topic, entries, nonce, ciphertext = msgpack.unpackb(BOX)
    assert (version, sender, topic, len(nonce)) == (1, SENDER, TOPIC, 12)
    wrap_aad, aad = _oracle_aads(sender, topic, entries)
    private = mlkem.MLKEM768PrivateKey.from_seed_bytes(AUDIT.mlkem768.seed_bytes())
    key_id = key_id_of(private.public_key().public_bytes_raw())
    _, _, kem_ct, wrapped = next(e for e in entries if e[1] == key_id)
    kek = _oracle_kek(private.decapsulate(kem_ct), key_id)
    data_key = AESGCM(kek).decrypt(bytes(12), wrapped, wrap_aad)
    assert AESGCM(data_key).decrypt(nonce, ciphertext, aad) == SECRET


def test_a_box_built_by_hand_from_the_documented_format_opens() -> None:
    msgpack = pytest.importorskip("msgpack")
    key = KemKey.generate()
    public = mlkem.MLKEM768PublicKey.from_public_bytes(key.public_key_bytes())
    secret, kem_ct = public.encapsulate()
    principal = "risk-manager:risk-manager-01"
    wrap_aad, _ = _oracle_aads(SENDER, TOPIC, [[principal, key.key_id, kem_ct]])
    data_key, nonce = AESGCM.generate_key(256), b"\x07" * 12
    wrapped = AESGCM(_oracle_kek(secret, key.key_id)).encrypt(bytes(12), data_key, wrap_aad)
    entry: list[object] = [principal, key.key_id, kem_ct, wrapped]
    _, aad = _oracle_aads(SENDER, TOPIC, [entry])
    ciphertext = AESGCM(data_key).encrypt(nonce, SECRET, aad)
    box: bytes = msgpack.packb([1, SENDER, TOPIC, [entry], nonce, ciphertext])
    keyring = KemKeyring(principal, [KemKeyring.of(RISK).current._replace(key=key)])
    assert open_sealed(box, topic=TOPIC, keyring=keyring, sender=SENDER) == SECRET
    assert read_box(box) == SealedBox(
        1,
        SENDER,
        TOPIC,
        [SealedRecipient(principal, key.key_id, kem_ct, wrapped)],
        nonce,
        ciphertext,
    )

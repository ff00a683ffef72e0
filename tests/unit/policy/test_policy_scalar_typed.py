"""The typed generator (``scalar.typed``): what it declines, and its temporaries' names."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tradeswarm.policy import compile_policies
from tradeswarm.policy.est import NotCompiled
from tradeswarm.policy.kinds import Kind
from tradeswarm.policy.loader import load_policies
from tradeswarm.policy.scalar import typed
from tradeswarm.policy.values import Uid

SCHEMA = """
entity U = { lim: Long };
action go appliesTo {
  principal: [U], resource: [U], context: { a: Long, d: decimal, s: String },
};
"""
GO = Uid(("Action", "go"))


def _body(condition: str) -> dict[str, Any]:
    text = f"permit(principal, action, resource) when {{ {condition} }};"
    body: dict[str, Any] = load_policies(text).policies["policy0"]["conditions"][0]["body"]
    return body


def _gen() -> typed.TypedGen:
    engine = compile_policies("permit(principal, action, resource);", SCHEMA)
    return typed.TypedGen(engine.context_parser, GO, engine.program.namespace)


@pytest.mark.parametrize(
    ("condition", "declined"),
    [
        ('context.d like "x*"', "like on a decimal"),
        ("context.s < 3", "< of str and long"),
        ("context.a == context.s", "== of long and str"),
        ("context.d.greaterThan(context.a)", "greaterThan of decimal, long"),
        ("-context.s", "negation of a str"),
    ],
)
def test_a_handler_declines_naming_the_construct(condition: str, declined: str) -> None:
    node = _body(condition)
    ((op, arg),) = node.items()
    with pytest.raises(NotCompiled, match=f"^{re.escape(declined)}$"):
        typed._HANDLERS[op](_gen(), node, arg)


def test_a_declined_node_is_the_generic_expression() -> None:
    gen = _gen()
    node = _body('context.d like "x*"')
    got = gen.visit(node)
    assert got.ty is Kind.BOOL  # the generic expression's kind
    assert got.src.startswith("_rt.like(")


def test_typed_code_keeps_each_generators_temporaries_apart() -> None:
    policies = (
        "permit(principal, action, resource) when { context.a + 1 > 0 };\n"  # typed: _u
        "permit(principal, action, resource) when { context.s < 3 };"  # declined: _g
    )
    engine = compile_policies(policies, SCHEMA, validate=False)
    store = engine.prepare_entities([])
    request = {
        "principal": {"type": "U", "id": "x"},
        "action": {"type": "Action", "id": "go"},
        "resource": {"type": "U", "id": "x"},
        "context": {"a": 1, "d": "1.0", "s": "s"},
    }
    got = engine.is_authorized(request, store)
    assert got.reasons == ("policy0",) and got.error_ids == ("policy1",)
    ((source,),) = [engine.fast.sources.values()]
    names = set(re.findall(r"\b_[tgu]\d+\b", source))
    assert {"_u1", "_g1", "_g2"} <= names
    assert not any(n.startswith("_t") for n in names)  # the program's own, not used here

"""Helpers over Cedar's JSON syntax tree (the EST cedarpy gives ``loader``), shared by every
backend: which variables a node reads, the attribute path it names, and the one exception a
backend raises for a construct it does not compile."""

from __future__ import annotations

from typing import Any


class NotCompiled(Exception):
    """A backend declined a construct (or an input kind) it does not compile; the caller
    takes the next tier down (the tiers are tabled in ``tradeswarm.policy``). The message
    names the construct."""


#: The request variables and the one-letter names generated code binds them to.
VARS = {"principal": "P", "action": "A", "resource": "R", "context": "C"}


def free_vars(node: Any) -> set[str]:
    """The variables (principal, action, resource, context) an EST node reads."""
    if isinstance(node, dict):
        if "Var" in node and isinstance(node["Var"], str):
            return {node["Var"]}
        return set().union(*(free_vars(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(free_vars(v) for v in node)) if node else set()
    return set()


def context_path(node: dict[str, Any]) -> tuple[str, ...] | None:
    """``context.a.b`` as ("a", "b") (``context`` itself as ()); None when the node is not
    such a path."""
    if node.get("Var") == "context":
        return ()
    inner = node.get(".")
    if inner is None:
        return None
    head = context_path(inner["left"])
    return None if head is None else (*head, inner["attr"])

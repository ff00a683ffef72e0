"""Who is speaking: an agent or human name with a role."""

from __future__ import annotations

import msgspec

from tradeswarm.bus.topics import Role
from tradeswarm.core.errors import InvalidInput


class Identity(msgspec.Struct, frozen=True):
    name: str
    role: Role

    def __post_init__(self) -> None:
        if (
            not self.name
            or not self.name.replace("-", "")
            .replace(".", "")
            .replace("@", "")
            .replace("_", "")
            .isalnum()
        ):
            raise InvalidInput("identity.name", self.name, "use letters, digits, - . _ @ only")

    @property
    def is_human(self) -> bool:
        return self.role is Role.HUMAN

    def __str__(self) -> str:
        return f"{self.role}:{self.name}"

"""The vector index add-node reads and grows: one user's stored node vectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

#: Metadata values a vector index accepts.
Scalar = str | int | float | bool


class Neighbour(Protocol):
    """A stored node near a query vector."""

    @property
    def id(self) -> str: ...

    @property
    def similarity(self) -> float: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...


class NodeIndex(Protocol):
    """One user's stored node vectors."""

    def nearest(self, vector: np.ndarray, limit: int) -> Sequence[Neighbour]:
        """The ``limit`` nearest nodes of this user, most similar first."""
        ...

    def add(self, id: str, vector: np.ndarray, metadata: dict[str, Scalar]) -> None:
        """Insert or replace one node's vector."""
        ...


def node_id(user_id: str, orig_id: str) -> str:
    """The id of a node's vector, shared with the backend."""
    return f"{user_id}_{orig_id}"

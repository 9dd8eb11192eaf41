"""The one message shape for bad input (labkit.errors), as used by labkit.hpo."""
from __future__ import annotations

from labkit.errors import ParameterError


def fail(name: str, owner: str, accepts: str, got) -> None:
    """Raise ParameterError: "The 'name' parameter of owner must be accepts. Got got instead." """
    raise ParameterError(f"The {name!r} parameter of {owner} must be {accepts}. Got {got!r} instead.")

"""
The ``@pgenv/NAME`` connector: pyinfra's ``@local`` connector, once per environment. pyinfra lets
``@local`` appear only once in an inventory, while each environment is a host of its own (so that
``--limit NAME``, host parallelism and per-host results are pyinfra's own); every command still runs
on this machine. Registered under the ``pyinfra.connectors`` entry point by the repository's
``pgconverge.dist-info`` folder (found on ``sys.path``, no install needed).
"""

from __future__ import annotations

from collections.abc import Iterator

from pyinfra.api.exceptions import InventoryError
from pyinfra.connectors.local import LocalConnector


class EnvironmentConnector(LocalConnector):
    """Runs the commands of one environment's host locally, like ``@local``."""

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict, list[str]]]:
        if not name:
            raise InventoryError("@pgenv needs an environment's name: @pgenv/staging")
        yield name, {}, []

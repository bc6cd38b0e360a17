"""The voice tools as a model sees them: names, descriptions and JSON schemas of the arguments.

``tools.json`` holds the server's own definitions (``GET /api/agents/{id}/tools?platform=openai``)
as shipped with this release, so tools can be built without a round trip; the tests check it
against a running server. ``PillowCalendar.tool_definitions()`` fetches the live ones, which
also list the agent's appointment types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class ToolSpec:
    """One tool: what the model is told, and the schema of what it may send."""

    name: str
    description: str
    parameters: dict[str, Any]

    def openai(self) -> dict[str, Any]:
        """The OpenAI-style function definition (``{"type": "function", "function": …}``)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def _load() -> tuple[ToolSpec, ...]:
    text = resources.files(__package__).joinpath("tools.json").read_text(encoding="utf-8")
    return tuple(
        ToolSpec(
            name=tool["function"]["name"],
            description=tool["function"]["description"],
            parameters=tool["function"]["parameters"],
        )
        for tool in json.loads(text)
    )


#: The voice tools, in the order an agent usually needs them.
TOOLS: tuple[ToolSpec, ...] = _load()

"""Ready tools for Pipecat (``pip install "pillow-calendar[pipecat]"``).

Pipecat's own schema types carry the server's argument schemas, with a handler that calls the
voice API and hands the answer (or ``{"error": {...}}`` with a sentence to say and any
alternatives) to ``params.result_callback``.

Example::

    calendar = PillowCalendar.from_env()
    context = LLMContext(messages, tools=calendar_tools_schema(calendar))

The schemas carry their handlers, so any LLM service the context reaches runs them; for an
older style of set-up, :func:`register_calendar_tools` registers them on one service instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.services.llm_service import FunctionCallParams, LLMService

from .client import TOOL_PATHS, PillowCalendar
from .errors import PillowCalendarError
from .schemas import TOOLS, ToolSpec

__all__ = ["calendar_function_schemas", "calendar_tools_schema", "register_calendar_tools"]


def _specs(specs: Iterable[ToolSpec] | None) -> list[ToolSpec]:
    return [spec for spec in (TOOLS if specs is None else specs) if spec.name in TOOL_PATHS]


def _handler(calendar: PillowCalendar) -> Any:
    async def handle(params: FunctionCallParams) -> None:
        try:
            result: dict[str, Any] = await calendar.call_tool(
                params.function_name, dict(params.arguments or {})
            )
        except PillowCalendarError as error:
            result = error.to_tool_result()
        await params.result_callback(result)

    return handle


def calendar_function_schemas(
    calendar: PillowCalendar, specs: Iterable[ToolSpec] | None = None
) -> list[FunctionSchema]:
    """One ``FunctionSchema`` per voice tool, each with its handler.

    ``specs`` defaults to the definitions shipped with this package; pass
    ``await calendar.tool_definitions()`` to offer the agent's appointment types too."""
    handle = _handler(calendar)
    return [
        FunctionSchema(
            name=spec.name,
            description=spec.description,
            properties=dict(spec.parameters.get("properties") or {}),
            required=list(spec.parameters.get("required") or []),
            handler=handle,
        )
        for spec in _specs(specs)
    ]


def calendar_tools_schema(
    calendar: PillowCalendar, specs: Iterable[ToolSpec] | None = None
) -> ToolsSchema:
    """The voice tools as a ``ToolsSchema`` for ``LLMContext(tools=...)``."""
    return ToolsSchema(standard_tools=calendar_function_schemas(calendar, specs))


def register_calendar_tools(
    llm: LLMService, calendar: PillowCalendar, specs: Iterable[ToolSpec] | None = None
) -> ToolsSchema:
    """Registers each tool's handler on ``llm`` with ``register_function`` and returns the
    schemas (without handlers) to advertise in the context."""
    handle = _handler(calendar)
    schemas = []
    for spec in _specs(specs):
        llm.register_function(spec.name, handle)
        schemas.append(
            FunctionSchema(
                name=spec.name,
                description=spec.description,
                properties=dict(spec.parameters.get("properties") or {}),
                required=list(spec.parameters.get("required") or []),
            )
        )
    return ToolsSchema(standard_tools=schemas)

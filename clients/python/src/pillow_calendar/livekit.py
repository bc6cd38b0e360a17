"""Ready tools for LiveKit Agents (``pip install "pillow-calendar[livekit]"``).

Each tool is a raw ``livekit.agents.function_tool`` whose schema is the server's own, so the
model is told exactly what the server accepts. A tool returns the server's answer as JSON (a
``summary`` to read out, options with ``slot_id``s, ...); a failure raises LiveKit's
``ToolError`` with the server's code, a sentence to say and any alternatives, so the model can
offer another time instead of giving up.

Example::

    calendar = PillowCalendar.from_env(call_id=ctx.room.name)
    agent = Agent(instructions="...", tools=calendar_tools(calendar))
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, Any

from livekit.agents import ToolError, function_tool
from livekit.agents.llm import RawFunctionTool

from .client import TOOL_PATHS, PillowCalendar
from .errors import PillowCalendarError
from .schemas import TOOLS, ToolSpec

if TYPE_CHECKING:  # LiveKit's MCP support needs livekit-agents[mcp]; the tools above do not.
    from livekit.agents import mcp

__all__ = ["CalendarTool", "calendar_mcp_toolset", "calendar_tools", "structured_mcp_result"]

#: One of the calendar's tools: LiveKit calls it with the model's arguments as a dict.
CalendarTool = RawFunctionTool[[dict[str, Any]], Awaitable[str]]


def calendar_tools(
    calendar: PillowCalendar, specs: Iterable[ToolSpec] | None = None
) -> list[CalendarTool]:
    """The voice tools as LiveKit function tools, for ``Agent(tools=...)``.

    ``specs`` defaults to the definitions shipped with this package; pass
    ``await calendar.tool_definitions()`` to offer the agent's appointment types too."""
    return [
        _tool(calendar, spec)
        for spec in (TOOLS if specs is None else specs)
        if spec.name in TOOL_PATHS
    ]


def _tool(calendar: PillowCalendar, spec: ToolSpec) -> CalendarTool:
    name = spec.name

    async def run(raw_arguments: dict[str, Any]) -> str:
        try:
            answer = await calendar.call_tool(name, raw_arguments)
        except PillowCalendarError as error:
            raise ToolError(json.dumps(error.to_tool_result())) from error
        return json.dumps(answer)

    return function_tool(
        run,
        raw_schema={
            "name": spec.name,
            "description": spec.description,
            "parameters": spec.parameters,
        },
    )


def structured_mcp_result(ctx: mcp.MCPToolResultContext) -> str:
    """A ``tool_result_resolver`` for LiveKit's MCP client that hands the model our whole
    answer (the structured content: options with their ``slot_id``s, the booking, the error's
    alternatives) instead of only its one-line text, which is all LiveKit passes on by default.
    """
    result = ctx.result
    if result.structured_content is not None:
        return json.dumps(result.structured_content)
    text = " ".join(getattr(block, "text", "") for block in result.content).strip()
    if not text:
        raise ToolError(f"{ctx.tool_name} answered nothing.")
    return text


def calendar_mcp_toolset(
    base_url: str, api_key: str, agent_id: str, *, timeout: float = 15.0
) -> mcp.MCPToolset:
    """The same tools through LiveKit's own MCP client on the server's ``/mcp``, for
    ``Agent(tools=[...])``; needs ``livekit-agents[mcp]``."""
    from livekit.agents import mcp

    return mcp.MCPToolset(
        id="pillow_calendar",
        mcp_server=mcp.MCPServerHTTP(
            url=base_url.rstrip("/") + "/mcp",
            headers={"Authorization": f"Bearer {api_key}", "X-Agent-ID": agent_id},
            client_session_timeout_seconds=timeout,
            tool_result_resolver=structured_mcp_result,
        ),
    )

"""The example LiveKit agent (examples/livekit_agent.py) as a user would run it, minus the
LiveKit room: its agent answers a caller through its tools, by this package or by /mcp."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from livekit.agents import AgentSession, mcp

from pillow_calendar import PillowCalendar

from .scripted import ScriptedLLM, last_tool_output


def example() -> ModuleType:
    path = Path(__file__).parent.parent / "examples" / "livekit_agent.py"
    spec = importlib.util.spec_from_file_location("livekit_agent_example", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_agent_offers_times_with_the_packages_tools(
    calendar: PillowCalendar, date: str
) -> None:
    agent = example().front_desk(calendar)
    model = ScriptedLLM(
        [
            lambda ctx: [("check_availability", {"date": date})],
            lambda ctx: last_tool_output(ctx)["summary"],
        ]
    )
    async with model, AgentSession(llm=model) as session:
        await session.start(agent)
        result = await session.run(user_input=f"Anything on {date}?")
    result.expect.next_event().is_function_call(name="check_availability")
    output = result.expect.next_event().is_function_call_output(is_error=False).event().item
    answer = json.loads(output.output)
    result.expect.next_event().is_message(role="assistant")
    assert answer["date"] == date and answer["options"]


async def test_the_example_agent_reaches_the_same_tools_through_mcp_when_asked(
    calendar: PillowCalendar,
    base_url: str,
    api_key: str,
    agent_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PILLOW_CALENDAR_VIA_MCP", "1")
    monkeypatch.setenv("PILLOW_CALENDAR_URL", base_url)
    monkeypatch.setenv("PILLOW_CALENDAR_API_KEY", api_key)
    monkeypatch.setenv("PILLOW_CALENDAR_AGENT_ID", agent_id)
    agent = example().front_desk(calendar)
    (toolset,) = agent.tools
    assert isinstance(toolset, mcp.MCPToolset)

"""The LiveKit Agents tools, run by LiveKit's own ``AgentSession`` (text mode, no LiveKit
server): the session parses the model's tool calls, runs our tools and records their output."""

from __future__ import annotations

import json
import uuid

from livekit.agents import Agent, AgentSession, mcp

from pillow_calendar import PillowCalendar
from pillow_calendar.livekit import calendar_mcp_toolset, calendar_tools

from .conftest import phone_number
from .scripted import ScriptedLLM, last_tool_output


def outputs(result) -> list:  # type: ignore[no-untyped-def]
    return [e.item for e in result.events if e.type == "function_call_output"]


async def test_the_agent_checks_availability_and_books_through_livekits_session(
    calendar: PillowCalendar, date: str
) -> None:
    phone = phone_number()
    model = ScriptedLLM(
        [
            lambda ctx: [("check_availability", {"date": date, "part_of_day": "morning"})],
            lambda ctx: [
                (
                    "book_appointment",
                    {
                        "slot_id": last_tool_output(ctx)["options"][0]["slot_id"],
                        "name": "LiveKit Caller",
                        "phone": phone,
                    },
                )
            ],
            lambda ctx: last_tool_output(ctx)["summary"],
        ]
    )
    async with model, AgentSession(llm=model) as session:
        await session.start(
            Agent(instructions="Book appointments.", tools=calendar_tools(calendar))
        )
        result = await session.run(user_input=f"Can I come in on the morning of {date}?")

    result.expect.next_event().is_function_call(name="check_availability")
    result.expect.next_event().is_function_call_output(is_error=False)
    result.expect.next_event().is_function_call(name="book_appointment")
    result.expect.next_event().is_function_call_output(is_error=False)
    result.expect.next_event().is_message(role="assistant")

    availability, booking = (json.loads(o.output) for o in outputs(result))
    assert availability["date"] == date
    assert all(int(o["start_time"][11:13]) < 12 for o in availability["options"])
    assert booking["booked"] is True
    assert booking["start_time"] == availability["options"][0]["start_time"]

    found = await calendar.find_booking(phone=phone)
    assert [b.confirmation_code for b in found.bookings] == [booking["confirmation_code"]]
    assert found.bookings[0].attendee_name == "LiveKit Caller"


async def test_a_taken_time_reaches_the_model_as_a_tool_error_with_alternatives(
    calendar: PillowCalendar, base_url: str, api_key: str, agent_id: str, date: str
) -> None:
    slot = (await calendar.check_availability(date=date)).options[0].slot_id
    await calendar.book_appointment(slot_id=slot, name="First Caller")

    async with PillowCalendar(base_url, api_key, agent_id, call_id=uuid.uuid4().hex) as other:
        model = ScriptedLLM(
            [
                lambda ctx: [("book_appointment", {"slot_id": slot, "name": "LiveKit Caller"})],
                lambda ctx: "That time was just taken.",
            ]
        )
        async with model, AgentSession(llm=model) as session:
            await session.start(Agent(instructions="Book.", tools=calendar_tools(other)))
            result = await session.run(user_input="Book that one.")

    result.expect.next_event().is_function_call(name="book_appointment")
    output = result.expect.next_event().is_function_call_output(is_error=True).event().item
    error = json.loads(output.output)["error"]
    assert error["code"] == "slot_unavailable"
    assert error["message"]
    assert 1 <= len(error["alternatives"]) <= 3
    assert all(a["slot_id"] != slot for a in error["alternatives"])


async def test_livekits_session_offers_the_model_every_tool_with_the_servers_schemas(
    calendar: PillowCalendar,
) -> None:
    tools = calendar_tools(calendar)
    assert [t.info.name for t in tools] == [
        "check_availability",
        "book_appointment",
        "find_booking",
        "cancel_booking",
        "reschedule_booking",
        "show_booking_calendar",
        "get_call_booking_state",
    ]
    live = {spec.name: spec.parameters for spec in await calendar.tool_definitions()}
    assert {t.info.name: t.info.raw_schema["parameters"] for t in tools} == live


async def test_livekits_own_mcp_client_on_our_mcp_checks_and_books_with_the_structured_answer(
    calendar: PillowCalendar, base_url: str, api_key: str, agent_id: str, date: str
) -> None:
    phone = phone_number()
    model = ScriptedLLM(
        [
            lambda ctx: [("check_availability", {"date": date})],
            lambda ctx: [
                (
                    "book_appointment",
                    {
                        "slot_id": last_tool_output(ctx)["options"][0]["slot_id"],
                        "name": "LiveKit Caller",
                        "phone": phone,
                    },
                )
            ],
            lambda ctx: last_tool_output(ctx)["summary"],
        ]
    )
    agent = Agent(
        instructions="Book appointments.",
        tools=[calendar_mcp_toolset(base_url, api_key, agent_id)],
    )
    async with model, AgentSession(llm=model) as session:
        await session.start(agent)
        result = await session.run(user_input=f"Book me the first time on {date}.")

    result.expect.next_event().is_function_call(name="check_availability")
    result.expect.next_event().is_function_call_output(is_error=False)
    result.expect.next_event().is_function_call(name="book_appointment")
    result.expect.next_event().is_function_call_output(is_error=False)
    availability, booking = (json.loads(o.output) for o in outputs(result))
    assert availability["date"] == date
    assert booking["booked"] is True
    assert booking["start_time"] == availability["options"][0]["start_time"]
    found = await calendar.find_booking(phone=phone)
    assert [b.confirmation_code for b in found.bookings] == [booking["confirmation_code"]]


async def test_without_our_resolver_livekits_mcp_client_hands_the_model_only_the_summary(
    base_url: str, api_key: str, agent_id: str, date: str
) -> None:
    # Why calendar_mcp_toolset sets a resolver: LiveKit's default passes on the text alone.
    server = mcp.MCPServerHTTP(
        url=f"{base_url}/mcp",
        headers={"Authorization": f"Bearer {api_key}", "X-Agent-ID": agent_id},
        client_session_timeout_seconds=15,
    )
    model = ScriptedLLM([lambda ctx: [("check_availability", {"date": date})], lambda ctx: "Done."])
    agent = Agent(instructions="Book.", tools=[mcp.MCPToolset(id="plain", mcp_server=server)])
    async with model, AgentSession(llm=model) as session:
        await session.start(agent)
        result = await session.run(user_input="What is free?")
    result.expect.next_event().is_function_call(name="check_availability")
    output = result.expect.next_event().is_function_call_output(is_error=False).event().item
    assert "CS_" not in output.output

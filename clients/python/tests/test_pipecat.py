"""The Pipecat tools, run by a Pipecat LLM service in a real pipeline: the service's own
``run_function_calls`` finds each handler (registered from the context's ``ToolsSchema``, or
with ``register_function``) and broadcasts its result as a ``FunctionCallResultFrame``."""

from __future__ import annotations

import uuid

from pipecat.frames.frames import FunctionCallResultFrame, LLMContextFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.tests.utils import SleepFrame, run_test

from pillow_calendar import PillowCalendar
from pillow_calendar.pipecat import calendar_tools_schema, register_calendar_tools

from .conftest import phone_number
from .scripted import Calls, ScriptedLLMService


async def results_of(service: ScriptedLLMService, context: LLMContext) -> list:  # type: ignore[type-arg]
    down, _ = await run_test(
        service, frames_to_send=[LLMContextFrame(context=context), SleepFrame(sleep=1.0)]
    )
    return [f for f in down if isinstance(f, FunctionCallResultFrame)]


async def test_tools_advertised_in_the_context_run_when_the_model_calls_them(
    calendar: PillowCalendar, date: str
) -> None:
    times = await calendar.check_availability(date=date, part_of_day="afternoon")
    phone = phone_number()
    calls: Calls = [
        ("check_availability", {"date": date, "part_of_day": "afternoon"}),
        (
            "book_appointment",
            {"slot_id": times.options[0].slot_id, "name": "Pipecat Caller", "phone": phone},
        ),
    ]
    context = LLMContext(
        [{"role": "user", "content": "Book me."}], tools=calendar_tools_schema(calendar)
    )
    results = await results_of(ScriptedLLMService(calls), context)

    by_tool = {r.function_name: r.result for r in results}
    assert sorted(by_tool) == ["book_appointment", "check_availability"]
    availability, booking = by_tool["check_availability"], by_tool["book_appointment"]
    assert availability["date"] == date
    assert availability["options"][0]["slot_id"].startswith("CS_")
    assert booking["booked"] is True
    assert booking["start_time"] == times.options[0].start_time
    found = await calendar.find_booking(phone=phone)
    assert [b.confirmation_code for b in found.bookings] == [booking["confirmation_code"]]


async def test_handlers_registered_on_the_service_find_and_cancel_a_booking(
    calendar: PillowCalendar, date: str
) -> None:
    times = await calendar.check_availability(date=date)
    booked = await calendar.book_appointment(
        slot_id=times.options[0].slot_id, name="Pipecat Caller"
    )
    service = ScriptedLLMService(
        [
            ("find_booking", {"confirmation_code": booked.confirmation_code}),
            ("cancel_booking", {"confirmation_code": booked.confirmation_code}),
        ]
    )
    schema = register_calendar_tools(service, calendar)
    assert [s.name for s in schema.standard_tools] == [
        "check_availability",
        "book_appointment",
        "find_booking",
        "cancel_booking",
        "reschedule_booking",
        "show_booking_calendar",
        "get_call_booking_state",
    ]
    context = LLMContext([{"role": "user", "content": "Cancel it."}], tools=schema)
    results = await results_of(service, context)

    # Pipecat runs one turn's calls in parallel by default: read each result by its tool.
    by_tool = {r.function_name: r.result for r in results}
    found, cancelled = by_tool["find_booking"], by_tool["cancel_booking"]
    assert found["bookings"][0]["confirmation_code"] == booked.confirmation_code
    assert cancelled["cancelled"] is True
    assert cancelled["booking"]["status"] == "cancelled"
    again = await calendar.find_booking(confirmation_code=booked.confirmation_code)
    assert again.bookings[0].status == "cancelled"


async def test_a_taken_time_is_handed_to_the_model_as_an_error_with_alternatives(
    calendar: PillowCalendar, base_url: str, api_key: str, agent_id: str, date: str
) -> None:
    slot = (await calendar.check_availability(date=date)).options[0].slot_id
    await calendar.book_appointment(slot_id=slot, name="First Caller")
    async with PillowCalendar(base_url, api_key, agent_id, call_id=uuid.uuid4().hex) as other:
        context = LLMContext(
            [{"role": "user", "content": "Book."}], tools=calendar_tools_schema(other)
        )
        results = await results_of(
            ScriptedLLMService([("book_appointment", {"slot_id": slot, "name": "Pipecat Caller"})]),
            context,
        )
    error = results[0].result["error"]
    assert error["code"] == "slot_unavailable"
    assert 1 <= len(error["alternatives"]) <= 3

"""The client against the real server: each tool, its typed answer and its errors."""

from __future__ import annotations

import json
from importlib import resources

import httpx
import pytest

from pillow_calendar import TOOLS, PillowCalendar, PillowCalendarError

from .conftest import phone_number


async def test_checking_availability_offers_at_most_three_signed_options_on_the_day_asked(
    calendar: PillowCalendar, date: str
) -> None:
    times = await calendar.check_availability(date=date)
    assert times.date == date
    assert times.timezone == "America/Los_Angeles"
    assert 1 <= len(times.options) <= 3
    assert all(option.slot_id.startswith("CS_") for option in times.options)
    assert all(option.start_time.startswith(date) for option in times.options)
    assert times.duration_minutes == 30
    assert times.summary
    assert times.raw["options"][0]["slot_id"] == times.options[0].slot_id


async def test_a_part_of_the_day_narrows_the_options(calendar: PillowCalendar, date: str) -> None:
    afternoon = await calendar.check_availability(date=date, part_of_day="afternoon")
    assert afternoon.options
    # Afternoon is noon to 5 PM in the business's zone (the offset is in each time).
    assert all(12 <= int(option.start_time[11:13]) < 17 for option in afternoon.options)


async def test_booking_a_slot_answers_a_code_and_finding_by_code_or_phone_returns_it(
    calendar: PillowCalendar, date: str
) -> None:
    times = await calendar.check_availability(date=date)
    phone = phone_number()
    booked = await calendar.book_appointment(
        slot_id=times.options[0].slot_id, name="Python Client", phone=phone
    )
    assert booked.booked
    assert booked.start_time == times.options[0].start_time
    assert booked.confirmation_code
    assert booked.spoken_code in booked.summary
    by_code = await calendar.find_booking(confirmation_code=booked.confirmation_code)
    assert by_code.found
    assert [b.confirmation_code for b in by_code.bookings] == [booked.confirmation_code]
    assert by_code.bookings[0].attendee_name == "Python Client"
    assert by_code.bookings[0].status == "confirmed"
    by_phone = await calendar.find_booking(phone=phone)
    assert [b.confirmation_code for b in by_phone.bookings] == [booked.confirmation_code]


async def test_a_retried_booking_on_the_same_call_returns_the_same_booking(
    calendar: PillowCalendar, date: str
) -> None:
    slot = (await calendar.check_availability(date=date)).options[0].slot_id
    first = await calendar.book_appointment(slot_id=slot, name="Python Client")
    again = await calendar.book_appointment(slot_id=slot, name="Python Client")
    assert again.confirmation_code == first.confirmation_code


async def test_a_slot_taken_on_another_call_raises_slot_unavailable_with_alternatives(
    calendar: PillowCalendar, base_url: str, api_key: str, agent_id: str, date: str
) -> None:
    slot = (await calendar.check_availability(date=date)).options[0]
    await calendar.book_appointment(slot_id=slot.slot_id, name="Python Client")
    async with PillowCalendar(base_url, api_key, agent_id, call_id="another-call") as other:
        with pytest.raises(PillowCalendarError) as raised:
            await other.book_appointment(slot_id=slot.slot_id, name="Second Caller")
    error = raised.value
    assert (error.status, error.code) == (409, "slot_unavailable")
    assert error.message
    assert 1 <= len(error.alternatives) <= 3
    assert all(
        a.slot_id.startswith("CS_") and a.slot_id != slot.slot_id for a in error.alternatives
    )
    result = error.to_tool_result()["error"]
    assert result["code"] == "slot_unavailable"
    assert result["alternatives"][0]["slot_id"] == error.alternatives[0].slot_id


async def test_rescheduling_moves_the_booking_and_keeps_its_code(
    calendar: PillowCalendar, date: str
) -> None:
    times = await calendar.check_availability(date=date)
    booked = await calendar.book_appointment(slot_id=times.options[0].slot_id, name="Python Client")
    later = (await calendar.check_availability(date=date, part_of_day="afternoon")).options[-1]
    moved = await calendar.reschedule_booking(booked.confirmation_code, slot_id=later.slot_id)
    assert moved.rescheduled
    assert moved.booking.confirmation_code == booked.confirmation_code
    assert moved.booking.start_time == later.start_time
    assert moved.previous_confirmation_code is None
    found = await calendar.find_booking(confirmation_code=booked.confirmation_code)
    assert found.bookings[0].start_time == later.start_time


async def test_cancelling_twice_says_the_second_time_that_it_was_already_cancelled(
    calendar: PillowCalendar, date: str
) -> None:
    times = await calendar.check_availability(date=date)
    booked = await calendar.book_appointment(slot_id=times.options[0].slot_id, name="Python Client")
    first = await calendar.cancel_booking(booked.confirmation_code, reason="Feeling better")
    assert first.cancelled
    assert first.booking.status == "cancelled"
    second = await calendar.cancel_booking(booked.confirmation_code)
    assert second.booking.status == "cancelled"
    assert "already cancelled" in second.summary
    assert "already" not in first.summary


async def test_an_argument_the_server_refuses_is_named_in_the_error(
    calendar: PillowCalendar,
) -> None:
    with pytest.raises(PillowCalendarError) as raised:
        await calendar.check_availability(date="someday")
    assert (raised.value.status, raised.value.code, raised.value.field) == (
        422,
        "invalid_date",
        "date",
    )


async def test_an_unknown_confirmation_code_is_not_found(calendar: PillowCalendar) -> None:
    with pytest.raises(PillowCalendarError) as raised:
        await calendar.cancel_booking("ZZZZZZZZ")
    assert raised.value.status == 404


async def test_a_wrong_api_key_is_refused_with_401(base_url: str, agent_id: str, date: str) -> None:
    async with PillowCalendar(base_url, "pcal_not_a_real_key", agent_id) as wrong:
        with pytest.raises(PillowCalendarError) as raised:
            await wrong.check_availability(date=date)
    assert (raised.value.status, raised.value.code) == (401, "unauthorized")


async def test_an_unreachable_server_raises_unreachable_with_a_sentence_to_say(
    agent_id: str,
) -> None:
    # Port 9 on loopback: nothing listens there on a test machine.
    async with PillowCalendar("http://127.0.0.1:9", "pcal_x", agent_id, timeout=2) as nowhere:
        with pytest.raises(PillowCalendarError) as raised:
            await nowhere.find_booking(phone="+14155550000")
    assert (raised.value.status, raised.value.code) == (0, "unreachable")
    assert isinstance(raised.value.__cause__, httpx.HTTPError)


async def test_a_tool_name_the_client_does_not_know_is_refused_without_a_request(
    calendar: PillowCalendar,
) -> None:
    with pytest.raises(PillowCalendarError) as raised:
        await calendar.call_tool("delete_everything", {})
    assert raised.value.code == "unknown_tool"


async def test_the_shipped_tool_definitions_are_the_servers_own(calendar: PillowCalendar) -> None:
    live = await calendar.tool_definitions()
    assert [spec.name for spec in live] == [spec.name for spec in TOOLS]
    assert [spec.openai() for spec in live] == [spec.openai() for spec in TOOLS]
    shipped = json.loads(
        resources.files("pillow_calendar").joinpath("tools.json").read_text(encoding="utf-8")
    )
    assert shipped == [spec.openai() for spec in TOOLS]


async def test_showing_the_calendar_with_no_browser_on_the_call_says_nobody_was_listening(
    calendar: PillowCalendar, date: str
) -> None:
    shown = await calendar.show_booking_calendar(date=date, part_of_day="afternoon")
    assert shown["browser_listening"] is False
    assert shown["date"].startswith(date)
    assert shown["summary"]
    assert shown["suggested"] == []


async def test_showing_the_calendar_for_the_earliest_times_names_them_first(
    calendar: PillowCalendar, date: str
) -> None:
    shown = await calendar.show_booking_calendar(date=date, prefer="earliest")
    earliest = (await calendar.check_availability(date=date, prefer="earliest")).options
    assert earliest
    assert shown["suggested"] == [option.spoken for option in earliest]


async def test_the_call_booking_state_names_what_was_booked_on_this_call(
    calendar: PillowCalendar, base_url: str, api_key: str, agent_id: str, date: str
) -> None:
    async with PillowCalendar(base_url, api_key, agent_id, call_id="state-call") as call:
        before = await call.get_call_booking_state()
        assert before["booked"] is False
        slot = (await call.check_availability(date=date)).options[0].slot_id
        booked = await call.book_appointment(slot_id=slot, name="State Caller")
        after = await call.get_call_booking_state()
    assert after["booked"] is True
    assert [b["confirmation_code"] for b in after["bookings"]] == [booked.confirmation_code]
    assert after["summary"]

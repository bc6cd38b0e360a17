"""An async client for the voice API: the same tool endpoints Retell calls.

Each tool is one ``POST`` to ``/api/calendar/<tool>/retell`` with Retell's envelope
(``{"name", "call": {"call_id"}, "args"}``), authenticated by ``Authorization: Bearer <key>``
(the tenant's API key, or the server's internal key) and ``X-Agent-ID``. Sending the call id
makes a booking idempotent per call and slot, so a retried tool call never books twice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from .errors import PillowCalendarError
from .models import Availability, Booked, Cancelled, Found, Rescheduled
from .schemas import ToolSpec

#: The endpoint of each voice tool, relative to the server's base URL.
TOOL_PATHS: dict[str, str] = {
    "check_availability": "/api/calendar/availability/retell",
    "book_appointment": "/api/calendar/booking/retell",
    "find_booking": "/api/calendar/find-booking/retell",
    "cancel_booking": "/api/calendar/cancel/retell",
    "reschedule_booking": "/api/calendar/reschedule/retell",
    "show_booking_calendar": "/api/calendar/show-calendar/retell",
    "get_call_booking_state": "/api/calendar/call-booking-state/retell",
}


def _given(**arguments: Any) -> dict[str, Any]:
    """The arguments that were given: the server reads a missing one as "not said"."""
    return {k: v for k, v in arguments.items() if v is not None}


class PillowCalendar:
    """The voice tools of one agent, over HTTP.

    Example::

        async with PillowCalendar("https://cal.example.com", api_key, agent_id) as calendar:
            times = await calendar.check_availability(date="tomorrow", part_of_day="afternoon")
            booked = await calendar.book_appointment(slot_id=times.options[0].slot_id,
                                                     name="Ada Lovelace", phone="+15551234567")
            print(booked.summary)

    Every method raises :class:`PillowCalendarError` with the server's ``code`` and a message
    made to be spoken, or ``unreachable`` when the server could not be reached.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        agent_id: str,
        *,
        call_id: str | None = None,
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        """``call_id`` names the live call (a LiveKit room, a Pipecat session) for idempotent
        bookings; ``http`` lets an application share its own ``httpx.AsyncClient``."""
        self.base_url = base_url.rstrip("/")
        self.agent_id = agent_id
        self.call_id = call_id
        self._headers = {"Authorization": f"Bearer {api_key}", "X-Agent-ID": agent_id}
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)

    @classmethod
    def from_env(cls, *, call_id: str | None = None) -> PillowCalendar:
        """Reads ``PILLOW_CALENDAR_URL``, ``PILLOW_CALENDAR_API_KEY`` and
        ``PILLOW_CALENDAR_AGENT_ID``.

        Raises ``KeyError`` naming the first one that is not set."""
        return cls(
            os.environ["PILLOW_CALENDAR_URL"],
            os.environ["PILLOW_CALENDAR_API_KEY"],
            os.environ["PILLOW_CALENDAR_AGENT_ID"],
            call_id=call_id,
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> PillowCalendar:  # noqa: PYI034 (Self needs Python 3.11)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method, f"{self.base_url}{path}", headers=self._headers, **kwargs
            )
        except httpx.HTTPError as error:
            raise PillowCalendarError(
                0, "unreachable", "I can't reach the calendar right now; please try again."
            ) from error
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_error or not isinstance(body, dict):
            raise PillowCalendarError.from_response(response.status_code, body)
        return body

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
    ) -> dict[str, Any]:
        """Runs one tool by name with the model's arguments and returns the server's JSON answer.

        Raises ``PillowCalendarError`` (``unknown_tool`` for a name this client does not know).
        """
        path = TOOL_PATHS.get(name)
        if path is None:
            raise PillowCalendarError(
                404,
                "unknown_tool",
                f"There is no tool called {name!r}; the tools are {', '.join(TOOL_PATHS)}.",
            )
        call_id = call_id or self.call_id
        envelope = {
            "name": name,
            "call": {"call_id": call_id} if call_id else {},
            "args": dict(arguments or {}),
        }
        return await self._request("POST", path, json=envelope)

    async def check_availability(
        self,
        *,
        date: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        part_of_day: str | None = None,
        duration: int | None = None,
        timezone: str | None = None,
        appointment_type: str | None = None,
        prefer: str | None = None,
        weekday: str | None = None,
        caller_phone: str | None = None,
        caller_email: str | None = None,
    ) -> Availability:
        """Open times: ``date`` (YYYY-MM-DD, "today", "tomorrow", a weekday) or a range, and
        optionally ``part_of_day`` (morning, afternoon or evening). ``prefer`` ("earliest" or
        "same_time_as_last"), ``weekday`` and the caller's phone or e-mail rank the options."""
        args = _given(
            date=date,
            start_date=start_date,
            end_date=end_date,
            part_of_day=part_of_day,
            duration=duration,
            timezone=timezone,
            appointment_type=appointment_type,
            prefer=prefer,
            weekday=weekday,
            caller_phone=caller_phone,
            caller_email=caller_email,
        )
        return Availability.from_json(await self.call_tool("check_availability", args))

    async def book_appointment(
        self,
        *,
        name: str,
        slot_id: str | None = None,
        start_time: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        notes: str | None = None,
        duration: int | None = None,
        appointment_type: str | None = None,
        call_id: str | None = None,
    ) -> Booked:
        """Books the caller: a ``slot_id`` from :meth:`check_availability` (or a ``start_time``).

        A taken time raises ``slot_unavailable`` with ``alternatives`` to offer."""
        args = _given(
            name=name,
            slot_id=slot_id,
            start_time=start_time,
            phone=phone,
            email=email,
            notes=notes,
            duration=duration,
            appointment_type=appointment_type,
        )
        return Booked.from_json(await self.call_tool("book_appointment", args, call_id=call_id))

    async def find_booking(
        self,
        *,
        confirmation_code: str | None = None,
        phone: str | None = None,
        email: str | None = None,
    ) -> Found:
        """The caller's appointments by confirmation code, or the phone or e-mail booked with."""
        args = _given(confirmation_code=confirmation_code, phone=phone, email=email)
        return Found.from_json(await self.call_tool("find_booking", args))

    async def cancel_booking(
        self, confirmation_code: str, *, reason: str | None = None
    ) -> Cancelled:
        """Cancels by confirmation code; cancelling again answers that it was already cancelled."""
        args = _given(confirmation_code=confirmation_code, reason=reason)
        return Cancelled.from_json(await self.call_tool("cancel_booking", args))

    async def reschedule_booking(
        self,
        confirmation_code: str,
        *,
        slot_id: str | None = None,
        start_time: str | None = None,
    ) -> Rescheduled:
        """Moves an appointment to a new ``slot_id`` (or ``start_time``); the code stays."""
        args = _given(confirmation_code=confirmation_code, slot_id=slot_id, start_time=start_time)
        return Rescheduled.from_json(await self.call_tool("reschedule_booking", args))

    async def show_booking_calendar(
        self,
        *,
        date: str | None = None,
        end_date: str | None = None,
        part_of_day: str | None = None,
        prefer: str | None = None,
        weekday: str | None = None,
        caller_phone: str | None = None,
        caller_email: str | None = None,
    ) -> dict[str, Any]:
        """Opens the booking calendar in the caller's browser during a web call (the call id
        names the call), set to the days and part of day asked for. The answer's
        ``browser_listening`` says whether a browser had the calendar open to receive it;
        ``suggested`` names the times the calendar puts first, ranked by ``prefer``
        ("earliest" or "same_time_as_last"), ``weekday`` and the caller's history."""
        args = _given(
            date=date,
            end_date=end_date,
            part_of_day=part_of_day,
            prefer=prefer,
            weekday=weekday,
            caller_phone=caller_phone,
            caller_email=caller_email,
        )
        return await self.call_tool("show_booking_calendar", args)

    async def get_call_booking_state(self) -> dict[str, Any]:
        """What the caller booked in the calendar during this call (``booked``, ``bookings``
        and a ``summary`` to speak), so the agent need not ask again."""
        return await self.call_tool("get_call_booking_state", {})

    async def tool_definitions(self) -> list[ToolSpec]:
        """The agent's tool definitions as the server generates them, with its appointment
        types listed; needs an API key or user token (not the internal key).

        Only the tools this client can call are returned."""
        body = await self._request(
            "GET", f"/api/agents/{self.agent_id}/tools", params={"platform": "openai"}
        )
        specs = []
        for tool in body.get("tools") or []:
            function = tool.get("function") or {}
            if function.get("name") in TOOL_PATHS:
                specs.append(
                    ToolSpec(
                        name=function["name"],
                        description=str(function.get("description") or ""),
                        parameters=dict(function.get("parameters") or {}),
                    )
                )
        return specs

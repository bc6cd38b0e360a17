"""The voice tools' answers as typed values.

Each answer keeps the server's JSON in ``raw`` as well: tools hand that to the model unchanged,
so fields the server adds later reach the agent without a new release of this package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class SlotOption:
    """One bookable time: pass ``slot_id`` back unchanged to book exactly this time."""

    slot_id: str
    start_time: str
    """RFC 3339 with the business's offset."""
    end_time: str
    spoken: str
    """How to say it, e.g. "Tuesday at 2 PM"."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SlotOption:
        return cls(
            slot_id=_text(data, "slot_id"),
            start_time=_text(data, "start_time"),
            end_time=_text(data, "end_time"),
            spoken=_text(data, "spoken"),
        )

    def to_json(self) -> dict[str, str]:
        return {
            "slot_id": self.slot_id,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "spoken": self.spoken,
        }


@dataclass(frozen=True)
class Availability:
    """What ``check_availability`` answers: at most three options and a line to read out."""

    date: str
    """The resolved day (YYYY-MM-DD) or range (``first/last``): read it back to the caller."""
    timezone: str
    options: list[SlotOption]
    summary: str
    nearest_available_days: list[str]
    """When nothing is free: the nearest days with openings."""
    duration_minutes: int
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Availability:
        return cls(
            date=_text(data, "date"),
            timezone=_text(data, "timezone"),
            options=[SlotOption.from_json(o) for o in data.get("options") or []],
            summary=_text(data, "summary"),
            nearest_available_days=[str(d) for d in data.get("nearest_available_days") or []],
            duration_minutes=int(data.get("duration_minutes") or 0),
            raw=data,
        )


@dataclass(frozen=True)
class Booked:
    """What ``book_appointment`` answers."""

    booked: bool
    confirmation_code: str
    spoken_code: str
    """The code spelled for speech: "K, 7, M, ..."."""
    start_time: str
    spoken: str
    host_name: str
    summary: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Booked:
        return cls(
            booked=bool(data.get("booked")),
            confirmation_code=_text(data, "confirmation_code"),
            spoken_code=_text(data, "spoken_code"),
            start_time=_text(data, "start_time"),
            spoken=_text(data, "spoken"),
            host_name=_text(data, "host_name"),
            summary=_text(data, "summary"),
            raw=data,
        )


@dataclass(frozen=True)
class Appointment:
    """An appointment as the voice tools show it."""

    confirmation_code: str
    status: str
    """``confirmed`` or ``cancelled``."""
    start_time: str
    end_time: str
    spoken: str
    host_name: str
    attendee_name: str
    spoken_code: str | None = None
    """Absent for a Cal.com uid, which is too long to read out."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Appointment:
        spoken_code = data.get("spoken_code")
        return cls(
            confirmation_code=_text(data, "confirmation_code"),
            status=_text(data, "status"),
            start_time=_text(data, "start_time"),
            end_time=_text(data, "end_time"),
            spoken=_text(data, "spoken"),
            host_name=_text(data, "host_name"),
            attendee_name=_text(data, "attendee_name"),
            spoken_code=spoken_code if isinstance(spoken_code, str) else None,
        )


@dataclass(frozen=True)
class Found:
    """What ``find_booking`` answers: at most three appointments, soonest first."""

    found: bool
    bookings: list[Appointment]
    summary: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Found:
        return cls(
            found=bool(data.get("found")),
            bookings=[Appointment.from_json(b) for b in data.get("bookings") or []],
            summary=_text(data, "summary"),
            raw=data,
        )


@dataclass(frozen=True)
class Cancelled:
    """What ``cancel_booking`` answers; ``summary`` says so when it was cancelled before."""

    cancelled: bool
    booking: Appointment
    summary: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cancelled:
        return cls(
            cancelled=bool(data.get("cancelled")),
            booking=Appointment.from_json(data.get("booking") or {}),
            summary=_text(data, "summary"),
            raw=data,
        )


@dataclass(frozen=True)
class Rescheduled:
    """What ``reschedule_booking`` answers."""

    rescheduled: bool
    booking: Appointment
    summary: str
    previous_confirmation_code: str | None
    """The code before the move, when moving gave the booking a new one (Cal.com does)."""
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rescheduled:
        previous = data.get("previous_confirmation_code")
        return cls(
            rescheduled=bool(data.get("rescheduled")),
            booking=Appointment.from_json(data.get("booking") or {}),
            summary=_text(data, "summary"),
            previous_confirmation_code=previous if isinstance(previous, str) else None,
            raw=data,
        )

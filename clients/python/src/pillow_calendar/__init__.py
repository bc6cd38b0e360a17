"""Pillow Calendar for voice agents in Python: an async client of the voice API and ready tools
for LiveKit Agents (``pillow_calendar.livekit``) and Pipecat (``pillow_calendar.pipecat``)."""

from .client import TOOL_PATHS, PillowCalendar
from .errors import PillowCalendarError
from .models import Appointment, Availability, Booked, Cancelled, Found, Rescheduled, SlotOption
from .schemas import TOOLS, ToolSpec

__all__ = [
    "TOOLS",
    "TOOL_PATHS",
    "Appointment",
    "Availability",
    "Booked",
    "Cancelled",
    "Found",
    "PillowCalendar",
    "PillowCalendarError",
    "Rescheduled",
    "SlotOption",
    "ToolSpec",
]

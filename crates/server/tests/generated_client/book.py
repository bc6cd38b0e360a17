"""Drives the server with the client openapi-python-client generated from /openapi.json.

Usage: python book.py GENERATED_DIR BASE_URL TOKEN

GENERATED_DIR holds the generated package `pillow_client`. Creates an availability rule, reads
a day's availability, books its first slot and reads the booking back, all through the
generated functions and models, and checks that an error answer parses as the documented
error body. Prints one JSON object with what it made, for the Rust test to check in the store.
"""

import datetime
import json
import sys

sys.path.insert(0, sys.argv[1])

from pillow_client import AuthenticatedClient  # noqa: E402
from pillow_client.api.availability import availability, create_rule  # noqa: E402
from pillow_client.api.bookings import create_booking, get_booking  # noqa: E402
from pillow_client.models import (  # noqa: E402
    BookingView,
    CreateBooking,
    CreateRuleBody,
    ErrorBody,
    RuleView,
    SlotList,
)

base_url, token = sys.argv[2], sys.argv[3]
# Undocumented statuses raise, so every answer below is one the document names.
client = AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)


def expect(response, status, model):
    assert response.status_code == status, (response.status_code, response.content)
    assert isinstance(response.parsed, model), (type(response.parsed), response.content)
    return response.parsed


weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
rule_document = {
    "name": "Weekdays and weekends",
    "timezone": "Europe/Paris",
    "slot_duration": 30,
    "schedule": {day: [{"start": "09:00", "end": "17:00"}] for day in weekdays},
}
rule = expect(
    create_rule.sync_detailed(client=client, body=CreateRuleBody.from_dict(rule_document)),
    201,
    RuleView,
)
assert rule.timezone == "Europe/Paris", rule

day = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
slots = expect(
    availability.sync_detailed(client=client, date=day, timezone="Europe/Paris"),
    200,
    SlotList,
)
assert slots.slots, f"no slots on {day}"
first = slots.slots[0]
assert first.start_time.startswith(day), first.start_time

bad = expect(availability.sync_detailed(client=client, date="31/12/2030"), 422, ErrorBody)
assert bad.error.code, bad

body = CreateBooking.from_dict(
    {
        "start_time": first.start_time,
        "duration": 30,
        "attendee": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+15550100"},
        "notes": "Booked by the generated client",
    }
)
booked = expect(
    create_booking.sync_detailed(client=client, body=body, idempotency_key="generated-1"),
    201,
    BookingView,
)
assert booked.status == "confirmed", booked
assert len(booked.confirmation_code) == 9, booked

again = expect(
    get_booking.sync_detailed(client=client, id_or_code=booked.confirmation_code),
    200,
    BookingView,
)
assert again.id == booked.id and again.start_time == booked.start_time, again

print(
    json.dumps(
        {
            "rule_id": str(rule.id),
            "slot": first.start_time,
            "booking_id": str(booked.id),
            "confirmation_code": booked.confirmation_code,
        }
    )
)

"""What every test needs: a running Pillow Calendar and an agent with open hours.

The Rust test ``python_client`` (crates/server/tests/api/python_client.rs) starts the real
server on a fresh database, makes a tenant, a member with weekday hours and an agent, and runs
this suite with:

- ``PILLOW_CALENDAR_URL``: the server's base URL;
- ``PILLOW_CALENDAR_API_KEY``: the tenant's API key;
- ``PILLOW_CALENDAR_AGENT_ID``: the agent's id;
- ``PILLOW_TEST_DATE``: a coming weekday (YYYY-MM-DD) inside the member's hours.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from pillow_calendar import PillowCalendar


def _setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run this suite through the Rust test python_client")
    return value


@pytest.fixture
def base_url() -> str:
    return _setting("PILLOW_CALENDAR_URL")


@pytest.fixture
def api_key() -> str:
    return _setting("PILLOW_CALENDAR_API_KEY")


@pytest.fixture
def agent_id() -> str:
    return _setting("PILLOW_CALENDAR_AGENT_ID")


@pytest.fixture
def date() -> str:
    return _setting("PILLOW_TEST_DATE")


@pytest.fixture
async def calendar(base_url: str, api_key: str, agent_id: str) -> AsyncIterator[PillowCalendar]:
    """A client on its own call: bookings made through it are idempotent for that call."""
    async with PillowCalendar(
        base_url, api_key, agent_id, call_id=f"call_{uuid.uuid4().hex}"
    ) as client:
        yield client


def phone_number() -> str:
    """A phone number no other test uses, so finding by phone finds only this test's booking."""
    return "+1415555" + f"{uuid.uuid4().int % 10_000:04d}"

"""A LiveKit voice agent that books appointments in Pillow Calendar.

Run it with your own keys:

    pip install "./clients/python[livekit]"     # from a checkout of the repository
    export LIVEKIT_URL=wss://<your project>.livekit.cloud LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=...
    export PILLOW_CALENDAR_URL=https://calendar.example.com   # your server's PUBLIC_URL
    export PILLOW_CALENDAR_API_KEY=pcal_...                    # an API key of your tenant
    export PILLOW_CALENDAR_AGENT_ID=<agent uuid>               # from the dashboard or /api/agents
    python livekit_agent.py dev        # or: console, to talk to it in the terminal

Speech and the model go through LiveKit Inference with your LiveKit keys; swap the model strings
for any plugin you prefer. Set PILLOW_CALENDAR_VIA_MCP=1 to give the agent the same tools
through LiveKit's own MCP client on the server's /mcp instead of this package's tools.
"""

from __future__ import annotations

import os

from livekit.agents import Agent, AgentServer, AgentSession, JobContext, cli

from pillow_calendar import PillowCalendar
from pillow_calendar.livekit import calendar_mcp_toolset, calendar_tools

INSTRUCTIONS = """You are the front desk of a clinic, on the phone. Help the caller book, find,
move or cancel an appointment. Check availability before offering times and offer at most
three; book with the slot_id of the time the caller chose; read the confirmation code back
letter by letter. If a time was just taken, offer the alternatives the tool gives you. Confirm
before cancelling. Keep every answer short: this is a phone call."""


def front_desk(calendar: PillowCalendar) -> Agent:
    """The agent, with the calendar's tools (or, with PILLOW_CALENDAR_VIA_MCP=1, its MCP)."""
    if os.environ.get("PILLOW_CALENDAR_VIA_MCP") == "1":
        # LiveKit's own MCP client on the server's /mcp: same tools, same answers.
        toolset = calendar_mcp_toolset(
            os.environ["PILLOW_CALENDAR_URL"],
            os.environ["PILLOW_CALENDAR_API_KEY"],
            os.environ["PILLOW_CALENDAR_AGENT_ID"],
        )
        return Agent(instructions=INSTRUCTIONS, tools=[toolset])
    return Agent(instructions=INSTRUCTIONS, tools=calendar_tools(calendar))


server = AgentServer()


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    # The room is the call: a retried booking on the same call never books twice.
    calendar = PillowCalendar.from_env(call_id=ctx.room.name)
    ctx.add_shutdown_callback(calendar.aclose)
    session = AgentSession(
        stt="deepgram/nova-3",
        llm="openai/gpt-4.1-mini",
        tts="cartesia/sonic-3",
    )
    await session.start(room=ctx.room, agent=front_desk(calendar))
    await session.generate_reply(instructions="Greet the caller and ask how you can help.")


if __name__ == "__main__":
    cli.run_app(server)

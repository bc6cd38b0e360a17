#!/usr/bin/env python3
"""One whole MCP exchange with Pillow Calendar's /mcp, through the official MCP Python SDK.

Used by `crates/server/tests/api/mcp.rs`: a client this project did not write connects over
streamable HTTP, lists the tools, checks availability for a date, books the first offered slot,
and prints one JSON object with what it saw, for the Rust test to check. `--mode legacy` speaks
the initialize handshake (protocol 2025-11-25); `--mode 2026-07-28` sends self-contained
requests without a session.

Exit status: 0 when the exchange ran (whatever the server answered), 2 on a client failure;
the failure is printed as JSON with an "error" member.
"""

import argparse
import asyncio
import json
import sys
import traceback

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def text_of(result):
    return " ".join(block.text for block in result.content if getattr(block, "type", None) == "text")


def tool_result(result):
    return {
        "is_error": result.is_error,
        "text": text_of(result),
        "structured": result.structured_content,
    }


async def exchange(args):
    headers = {"Authorization": f"Bearer {args.key}"}
    if args.agent:
        headers["X-Agent-ID"] = args.agent
    async with create_mcp_http_client(headers=headers) as http:
        transport = streamable_http_client(args.url, http_client=http)
        async with Client(transport, mode=args.mode) as client:
            report = {"protocol_version": client.protocol_version}
            info = client.server_info
            report["server_name"] = info.name if info else None
            listed = await client.list_tools()
            report["tools"] = sorted(tool.name for tool in listed.tools)
            report["descriptions"] = {tool.name: tool.description for tool in listed.tools}
            availability = await client.call_tool(
                "check_availability", {"date": args.date, **extra_agent(args)}
            )
            report["availability"] = tool_result(availability)
            options = (availability.structured_content or {}).get("options") or []
            if availability.is_error or not options:
                return report
            booking = await client.call_tool(
                "book_appointment",
                {
                    "slot_id": options[0]["slot_id"],
                    "name": args.name,
                    "phone": args.phone,
                    **extra_agent(args),
                },
            )
            report["booking"] = tool_result(booking)
            return report


def extra_agent(args):
    return {"agent_id": args.agent_argument} if args.agent_argument else {}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the /mcp endpoint")
    parser.add_argument("--key", required=True, help="a pcal_ API key")
    parser.add_argument("--agent", help="sent as the X-Agent-ID header")
    parser.add_argument("--agent-argument", help="sent as the agent_id tool argument instead")
    parser.add_argument("--date", required=True, help="YYYY-MM-DD to check")
    parser.add_argument("--mode", default="legacy", help="'legacy' (initialize), 'auto' (server/discover first) or '2026-07-28'")
    parser.add_argument("--name", default="Ada Lovelace")
    parser.add_argument("--phone", default="+14155550100")
    args = parser.parse_args()
    try:
        report = asyncio.run(exchange(args))
    except BaseException as error:  # report everything, including exception groups from anyio
        print(json.dumps({"error": repr(error), "trace": traceback.format_exc()}))
        sys.exit(2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()

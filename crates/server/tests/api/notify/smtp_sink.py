"""A real SMTP server for the e-mail tests (aiosmtpd): writes every message it accepts to a
directory, one file per message, and prints the port it listens on.

    python smtp_sink.py DIRECTORY [PORT]

PORT 0 (the default) picks a free one; the tests restart the sink on the same port to bring a
"down" mail server back up. SINK_DELAY_MS makes it wait that long before accepting each
message, like a slow mail server; meanwhile NAME.inflight marks the message being taken in.
"""

import asyncio
import os
import sys
import uuid

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        name = uuid.uuid4().hex
        # While a message is being taken in, NAME.inflight exists: a test can crash the sender
        # in the middle of a delivery rather than between two.
        inflight = os.path.join(self.directory, name + ".inflight")
        open(inflight, "wb").close()
        try:
            await asyncio.sleep(int(os.environ.get("SINK_DELAY_MS", "0")) / 1000)
        finally:
            os.remove(inflight)
        # A sender gone before the answer never learnt the message was taken: like a mail
        # server that commits a message as it answers 250, keep nothing.
        if server.transport is None or server.transport.is_closing():
            return "451 the client went away"
        partial = os.path.join(self.directory, name + ".part")
        with open(partial, "wb") as out:
            out.write(envelope.original_content or envelope.content)
        # Renamed once whole, so a reader never sees half a message.
        os.rename(partial, os.path.join(self.directory, name + ".eml"))
        return "250 OK"


async def main():
    directory = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Sink(directory), hostname="sink.test"),
        host="127.0.0.1",
        port=port,
        reuse_address=True,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


asyncio.run(main())

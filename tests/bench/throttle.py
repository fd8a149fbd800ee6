#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A TCP forwarder on 127.0.0.1 that limits the bytes sent towards TARGET to RATE bytes a
second (all connections share the limit): a slow uplink between a client and its S3
endpoint, for tests/bench/bench-worker.c --uplink. Answers flow back at full speed.

    throttle.py TARGET_PORT RATE      prints the port it listens on, then serves
"""
import asyncio
import sys


class Link:
    """The uplink: each send takes len(data) / rate seconds after the one before. A sleep
    that overshoots is made up by the next sends (up to BURST seconds of it), so the
    rate holds however late the event loop wakes."""

    BURST = 0.05

    def __init__(self, rate):
        self.rate = rate
        self.free_at = 0.0

    async def send(self, size):
        now = asyncio.get_running_loop().time()
        self.free_at = max(now - self.BURST, self.free_at) + size / self.rate
        if self.free_at > now:
            await asyncio.sleep(self.free_at - now)


async def pipe(reader, writer, link=None):
    try:
        while data := await reader.read(16384):
            if link:
                await link.send(len(data))
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(target_port, rate):
    link = Link(rate)

    async def connected(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer, link),
                             pipe(server_reader, client_writer))

    server = await asyncio.start_server(connected, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))

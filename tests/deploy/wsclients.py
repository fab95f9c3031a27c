"""Browsers' live sockets for the several-hosts test, in a process of their own (autobahn on asyncio).

``python wsclients.py SPEC.json``: SPEC has host, port (nginx, TLS), host_header, origin, cookie, ids, count. Client
``i`` subscribes to ``ids[i % len(ids)]`` from seq 0 and, like the page's htmx socket, reconnects when its socket
closes (or cannot connect) and subscribes again with the last seq it has. Prints READY once every client has its
first answer; on a line on stdin prints one JSON object: {"got": {i: [seq, ...] in the order received},
"closes": {i: n}} and exits.
"""

import asyncio
import json
import re
import ssl
import sys

from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

EVENT = re.compile(r'id="ev-(\d+)-(\d+)"')


def main() -> None:
    spec = json.loads(open(sys.argv[1]).read())
    count, ids = spec["count"], spec["ids"]
    got = {i: [] for i in range(count)}
    closes = dict.fromkeys(range(count), 0)
    state = {"ready": 0, "stopping": False}
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE  # the test's self-signed certificate

    async def run():
        loop = asyncio.get_running_loop()
        all_ready = asyncio.Event()

        class Client(WebSocketClientProtocol):
            def onOpen(self):
                f = self.factory
                self.sendMessage(json.dumps({"subscribe": f.migration, "last_seq": f.last_seq}).encode())

            def onMessage(self, payload, is_binary):
                f = self.factory
                for mid, seq in EVENT.findall(payload.decode()):
                    if int(mid) == f.migration:
                        got[f.index].append(int(seq))
                        f.last_seq = max(f.last_seq, int(seq))
                if not f.ready:
                    f.ready = True
                    state["ready"] += 1
                    if state["ready"] == count:
                        all_ready.set()

            def onClose(self, was_clean, code, reason):
                if not state["stopping"]:
                    closes[self.factory.index] += 1
                    loop.call_later(0.5, lambda: asyncio.ensure_future(connect(self.factory)))

        async def connect(factory):
            try:
                await loop.create_connection(factory, spec["host"], spec["port"], ssl=tls,
                                             server_hostname=spec["host_header"].split(":")[0])
            except OSError:
                if not state["stopping"]:
                    loop.call_later(0.5, lambda: asyncio.ensure_future(connect(factory)))

        for i in range(count):
            factory = WebSocketClientFactory(f"wss://{spec['host_header']}/ws/live/", origin=spec["origin"],
                                             headers={"Cookie": spec["cookie"]})
            factory.protocol, factory.index, factory.ready, factory.last_seq = Client, i, False, 0
            factory.migration = ids[i % len(ids)]
            await connect(factory)
        await asyncio.wait_for(all_ready.wait(), 120)
        print("READY", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        state["stopping"] = True

    asyncio.run(run())
    print(json.dumps({"got": got, "closes": closes}), flush=True)


if __name__ == "__main__":
    main()

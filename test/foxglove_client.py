"""A minimal Foxglove WebSocket client for the tests (the `websockets` package): the SDK's subprotocol, advertise,
subscribe, and binary message data frames (opcode 1, subscription id u32, log time u64, payload)."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from dataclasses import dataclass, field

SUBPROTOCOL = "foxglove.sdk.v1"  # what foxglove-sdk's server speaks (the successor of foxglove.websocket.v1)
MESSAGE_DATA = 1


@dataclass
class Received:
    """What one client session saw: advertised channels by topic, message times and the last payload per topic."""

    channels: dict[str, dict] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)
    last: dict[str, bytes] = field(default_factory=dict)
    server_info: dict = field(default_factory=dict)

    def rate(self, topic: str) -> float:
        """Messages per second on `topic` over the span it was received (0 with fewer than two)."""
        t = self.times.get(topic, [])
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0

    def json(self, topic: str) -> dict:
        return json.loads(self.last[topic])


async def _session(url: str, seconds: float, settle_s: float) -> Received:
    import websockets

    out = Received()
    by_sub: dict[int, str] = {}
    async with websockets.connect(url, subprotocols=[SUBPROTOCOL], max_size=None) as ws:
        assert ws.subprotocol == SUBPROTOCOL, ws.subprotocol
        start = time.monotonic()
        end = start + seconds
        while time.monotonic() < end:
            try:
                frame = await asyncio.wait_for(ws.recv(), max(0.01, end - time.monotonic()))
            except asyncio.TimeoutError:
                break
            if isinstance(frame, str):
                msg = json.loads(frame)
                if msg.get("op") == "serverInfo":
                    out.server_info = msg
                elif msg.get("op") == "advertise":
                    subs = []
                    for ch in msg["channels"]:
                        out.channels[ch["topic"]] = ch
                        sub = len(by_sub)
                        by_sub[sub] = ch["topic"]
                        subs.append({"id": sub, "channelId": ch["id"]})
                    await ws.send(json.dumps({"op": "subscribe", "subscriptions": subs}))
            elif frame and frame[0] == MESSAGE_DATA:
                _, sub, _log_time = struct.unpack_from("<BIQ", frame)
                topic = by_sub[sub]
                now = time.monotonic()
                if now - start >= settle_s:  # rates after subscriptions settled
                    out.times.setdefault(topic, []).append(now)
                out.last[topic] = bytes(frame[13:])
    return out


def collect(url: str, seconds: float, settle_s: float = 0.5) -> Received:
    """Connect, subscribe to every advertised channel, and record what arrives for `seconds`."""
    return asyncio.run(_session(url, seconds, settle_s))

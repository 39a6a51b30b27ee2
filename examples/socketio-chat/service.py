"""The chat backend, as a fast_app service broadcasts: an event class says
which rooms it goes to (broadcast_on) and what it carries (broadcast_as), and
broadcast() emits it through python-socketio's write-only Redis manager —
the same call a Socket.IO server on the Redis adapter would read. Here the
eventwire broker reads it (socketio.redis) and the sockets in the room, its
hooks and every other subscriber of the topic get it.

No framework: the few lines of fast_app's BroadcastEvent/broadcast() that
matter are below, so this runs with Debian's python3-socketio alone.

Usage: service.py --redis redis://127.0.0.1:6379 [--rounds N] [--interval-ms 700]
"""
import argparse
import asyncio
import random
import signal
import os

import socketio


class BroadcastEvent:
    """fast_app's contract: rooms (a string, or (room, namespace)) and the payload."""

    async def broadcast_when(self):
        return True

    async def broadcast_on(self):
        raise NotImplementedError

    async def broadcast_as(self):
        return self.__dict__


class UpdateChat(BroadcastEvent):
    def __init__(self, chat):
        self.chat = chat

    async def broadcast_on(self):
        return f"chat.{self.chat['id']}"

    async def broadcast_as(self):
        return dict(self.chat)


def rooms_of(on):
    """fast_app's get_broadcast_ons, in short: [(room, namespace), ...]."""
    items = on if isinstance(on, list) else [on]
    return [item if isinstance(item, tuple) else (item, "/") for item in items]


async def broadcast(mgr, event):
    if not await event.broadcast_when():
        return
    payload = await event.broadcast_as()
    for room, namespace in rooms_of(await event.broadcast_on()):
        await mgr.emit(type(event).__name__, payload, room=room, namespace=namespace)
        print(f"service broadcast {type(event).__name__} to {room}: {payload['title']} #{payload['messages']}", flush=True)


async def main():
    parser = argparse.ArgumentParser(description="Broadcasts UpdateChat to chat.<id> rooms through Redis.")
    parser.add_argument("--redis", required=True)
    parser.add_argument("--rounds", type=int, default=0, help="stop after this many broadcasts (0: until stopped)")
    parser.add_argument("--interval-ms", type=int, default=700)
    args = parser.parse_args()
    mgr = socketio.AsyncRedisManager(args.redis, write_only=True)
    chats = {7: {"id": 7, "title": "Launch plan", "messages": 0}, 8: {"id": 8, "title": "Coffee", "messages": 0}}
    sent = 0
    # The chats take turns, so a page watching one of them sees it every other round.
    while args.rounds == 0 or sent < args.rounds:
        chat = chats[7 if sent % 2 == 0 else 8]
        chat["messages"] += 1
        chat["last"] = random.choice(["on it", "shipped", "lunch?", "LGTM", "one more thing"])
        await broadcast(mgr, UpdateChat(chat))
        sent += 1
        await asyncio.sleep(args.interval_ms / 1000)
    print(f"service done after {sent} broadcasts", flush=True)


if __name__ == "__main__":
    # Ctrl-C reaches this process with its parent's: stop quietly, the parent says it stopped.
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(main())

"""The Python asyncio peer of taskmem: N tasks, each awaiting asyncio.sleep(SLEEP_MS), gathered,
as in the published "1 million concurrent tasks" program. At the end it prints
`done N spawn_ms=MS`: how long creating the N tasks took.

Usage: python3 main.py N SLEEP_MS
"""
import asyncio
import sys
import time


def count(name, text):
    if not text.isdigit():
        fail(f"{name} '{text}' is not a non-negative integer")
    return int(text)


def fail(msg):
    print(f"python/asyncio: {msg} (usage: python3 main.py N SLEEP_MS)", file=sys.stderr)
    sys.exit(2)


async def perform_task(seconds):
    await asyncio.sleep(seconds)


async def main(num_tasks, seconds):
    start = time.monotonic()
    tasks = []
    for _ in range(num_tasks):
        tasks.append(asyncio.create_task(perform_task(seconds)))
    spawned = time.monotonic() - start
    await asyncio.gather(*tasks)
    return spawned


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail(f"expected 2 arguments, got {len(sys.argv) - 1}")
    n = count("N", sys.argv[1])
    ms = count("SLEEP_MS", sys.argv[2])
    spawned = asyncio.run(main(n, ms / 1000))
    print(f"done {n} spawn_ms={int(spawned * 1000)}")

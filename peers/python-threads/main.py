"""The Python threads peer of taskmem: N threading.Thread, each in time.sleep(SLEEP_MS), joined.
One OS thread per task. At the end it prints `done N spawn_ms=MS`: how long starting the N
threads took.

Usage: python3 main.py N SLEEP_MS
"""
import sys
import threading
import time


def count(name, text):
    if not text.isdigit():
        fail(f"{name} '{text}' is not a non-negative integer")
    return int(text)


def fail(msg):
    print(f"python/threads: {msg} (usage: python3 main.py N SLEEP_MS)", file=sys.stderr)
    sys.exit(2)


def main(num_tasks, seconds):
    start = time.monotonic()
    threads = []
    for _ in range(num_tasks):
        thread = threading.Thread(target=time.sleep, args=(seconds,))
        thread.start()
        threads.append(thread)
    spawned = time.monotonic() - start
    for thread in threads:
        thread.join()
    return spawned


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail(f"expected 2 arguments, got {len(sys.argv) - 1}")
    n = count("N", sys.argv[1])
    ms = count("SLEEP_MS", sys.argv[2])
    spawned = main(n, ms / 1000)
    print(f"done {n} spawn_ms={int(spawned * 1000)}")

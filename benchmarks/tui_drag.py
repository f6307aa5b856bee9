"""What the app costs a drag, and whether typing stays live during one.

Prints one JSON object. The same drag (fixed points and step budget, from the same picture each time) runs
alternately headless (`Editor.drag`, the baseline) and inside the running app (a Textual worker
with progress on the status line and a preview every 0.5 s, in a 120x40 headless terminal).
In further drags in the app, keys are sent as the terminal driver sends them and the time until
the command line shows each is recorded: the input latency a user feels during a drag.

    python benchmarks/tui_drag.py                 # the embedded model
    python benchmarks/tui_drag.py --model CKPT --steps 40 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time

import torch

STEPS_DEFAULT = 30


def drag_points(res: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """One handle moved a quarter of the width (each run starts from the same picture)."""
    return [(0.35 * res, 0.5 * res)], [(0.6 * res, 0.5 * res)]


def headless_run(editor, steps: int) -> tuple[float, int]:
    """(seconds, steps taken): a drag may converge before the budget, so cost is per step."""
    handles, targets = drag_points(editor.resolution[0])
    config = editor.config.with_overrides(max_steps=steps)
    start = time.perf_counter()
    outcome = editor.drag(handles, targets, config=config, max_steps=steps)
    seconds = time.perf_counter() - start
    editor.session.undo()
    return seconds, outcome.result.steps


async def key_latency(app, box, timeout: float = 10.0) -> float | None:
    """Seconds from a key reaching the app (as the terminal driver delivers it) to the command
    line showing it; None if the drag ended first."""
    from textual import events

    before = box.value
    event = events.Key("x", "x")
    event.set_sender(app)
    start = time.perf_counter()
    app._driver.send_message(event)
    while box.value == before:
        if time.perf_counter() - start > timeout or not app.busy:
            return None
        await asyncio.sleep(0.002)
    return time.perf_counter() - start


async def app_run(app, pilot, steps: int, typing: bool) -> tuple[float, int, list[float]]:
    from parsers.command import Command

    editor = app.editor
    handles, targets = drag_points(editor.resolution[0])
    editor.config = editor.config.with_overrides(max_steps=steps)
    start = time.perf_counter()
    app.busy = True
    app.apply_command(Command("drag", handles=handles, targets=targets), "benchmark drag")
    latencies = []
    box = app.query_one("#command")
    while app.busy:
        latency = await key_latency(app, box) if typing else None
        if latency is not None:
            latencies.append(latency)
        await asyncio.sleep(0.1)
    await app.workers.wait_for_complete()
    seconds = time.perf_counter() - start
    taken = app.last_outcome.result.steps
    editor.session.undo()
    app.query_one("#command").value = ""
    return seconds, taken, latencies


async def measure(model: str | None, steps: int, runs: int) -> dict:
    from assistant.app import AppOptions, DragAssistantApp

    app = DragAssistantApp(AppOptions(model=model, seed=0, keep_session=False))
    headless, in_app, latencies = [], [], []
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.ready.is_set():
            await pilot.pause(0.05)
        headless_run(app.editor, 2)  # warm-up: first optimiser, first features
        for _ in range(runs):  # alternate so machine load hits both alike
            seconds, taken = headless_run(app.editor, steps)
            headless.append(seconds / taken)
            seconds, taken, _ = await app_run(app, pilot, steps, typing=False)
            in_app.append(seconds / taken)
        for _ in range(runs):  # typing polls the screen, which costs the drag: timed apart
            latencies += (await app_run(app, pilot, steps, typing=True))[2]
        resolution = app.editor.resolution[0]
    return {"resolution": resolution, "headless_s_per_step": headless, "app_s_per_step": in_app,
            "latencies": latencies}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint (default: the embedded model)")
    parser.add_argument("--steps", type=int, default=STEPS_DEFAULT)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("DRAGGAN_ASSISTANT_HOME", tempfile.mkdtemp(prefix="tui-drag-"))
    got = asyncio.run(measure(args.model, args.steps, args.runs))
    per_step_headless = statistics.median(got["headless_s_per_step"])
    per_step_app = statistics.median(got["app_s_per_step"])
    lat = sorted(got["latencies"])
    print(json.dumps({
        "benchmark": "tui_drag",
        "machine": {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "load_average": list(os.getloadavg())},
        "torch": torch.__version__,
        "threads": args.threads,
        "model": args.model or "embedded",
        "resolution": got["resolution"],
        "max_steps_per_drag": args.steps,
        "runs": args.runs,
        "baseline_headless_s_per_step": round(per_step_headless, 4),
        "app_s_per_step": round(per_step_app, 4),
        "app_overhead_ratio": round(per_step_app / per_step_headless, 3),
        "key_latency_during_drag_ms": {"median": round(1000 * statistics.median(lat), 1) if lat else None,
                                       "max": round(1000 * lat[-1], 1) if lat else None, "n": len(lat)},
    }, indent=1))


if __name__ == "__main__":
    main()

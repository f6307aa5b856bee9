"""App startup: seconds from launching a fresh process to the first picture on screen.

Prints one JSON object. Each measurement is a new Python process, as when a user types
`draggan-assistant`: the parent starts it and stops the clock when the child reports that the
model is loaded and the preview and history show the picture. The baseline, measured in the same
run and the same way, is a process that only imports torch and Textual (the floor no app built
on them can beat). The goal is <= 3 s on 2 cores.

    python benchmarks/tui_startup.py                      # the embedded model
    python benchmarks/tui_startup.py --model CKPT --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _machine import cpu_name

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 3.0


def child(model: str | None, threads: int) -> None:
    """Run the real app headless; print READY when it is, then quit."""
    import torch

    torch.set_num_threads(threads)
    from assistant.cli import build_parser  # what `draggan-assistant` imports before the app

    build_parser()
    from assistant.app import AppOptions, DragAssistantApp

    app = DragAssistantApp(AppOptions(model=model, seed=0, keep_session=False))

    def wait_and_quit() -> None:
        app.ready.wait()
        print(f"READY {time.process_time():.3f}", flush=True)
        app.call_from_thread(app.exit)

    threading.Thread(target=wait_and_quit, daemon=True).start()
    app.run(headless=True, size=(120, 40))


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds from launch to the child's READY line, CPU seconds the child had used then)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    found = None
    for line in proc.stdout:
        if line.startswith("READY "):
            found = (time.perf_counter() - start, float(line.split()[1]))
            break
    proc.wait(timeout=120)
    if found is None or proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed (exit {proc.returncode})")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint (default: the embedded model)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads in the app (default 2)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.model, args.threads)
        return

    import torch

    from stylegan2 import default_model_path

    model_path = Path(args.model) if args.model else default_model_path()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, DRAGGAN_ASSISTANT_HOME=home, PYTHONPATH=str(REPO))
        app_cmd = [sys.executable, __file__, "--child", "--threads", str(args.threads)]
        if args.model:
            app_cmd += ["--model", args.model]
        base_cmd = [sys.executable, "-c", "import time, torch, textual.app; print('READY', time.process_time())"]
        app_runs, base_runs = [], []
        for _ in range(args.runs):  # alternate, so load on the machine hits both alike
            base_runs.append(timed(base_cmd, env))
            app_runs.append(timed(app_cmd, env))
    app_s, app_cpu = zip(*app_runs)
    base_s, base_cpu = zip(*base_runs)
    median = statistics.median(app_s)
    print(json.dumps({
        "benchmark": "tui_startup",
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average": list(os.getloadavg())},
        "torch": torch.__version__,
        "threads": args.threads,
        "model": {"path": str(model_path), "bytes": model_path.stat().st_size if model_path.is_file() else None},
        "runs": args.runs,
        "app_ready_s": {"median": round(median, 3), "all": [round(t, 3) for t in app_s]},
        "app_cpu_s_at_ready": {"median": round(statistics.median(app_cpu), 3), "all": [round(t, 3) for t in app_cpu]},
        "baseline_import_torch_textual_s": {"median": round(statistics.median(base_s), 3),
                                            "all": [round(t, 3) for t in base_s]},
        "baseline_cpu_s_at_ready": {"median": round(statistics.median(base_cpu), 3), "all": [round(t, 3) for t in base_cpu]},
        "goal_s": GOAL_S,
        "meets_goal": median <= GOAL_S,
    }, indent=1))


if __name__ == "__main__":
    main()

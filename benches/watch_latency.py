#!/usr/bin/env python3
"""Measure the dashboard's latency: from a file's last write to its row on screen.

Starts `facewatch watch` in a private tmux server on an empty folder and waits until
the models and references are ready. Then it writes 1024x1024 PNG files into the
folder at a fixed rate (2 per second by default), each with one open, write and
close, the way a generator saves its outputs. The dashboard logs "row on screen"
(debug level) right after drawing the frame that first shows a new row. A file's
latency is that log time minus the time its write finished. Prints the median, p95 and max, and the number of files
that never reached the screen.

Usage: python3 benches/watch_latency.py [--binary target/release/facewatch]
       [--count 60] [--rate 2.0]
Needs tmux and Pillow (pip install pillow).
"""

import argparse
import datetime
import io
import os
import pathlib
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from PIL import Image

REPO = pathlib.Path(__file__).resolve().parent.parent
PHOTOS = REPO / "tests" / "photos" / "images"
FACES = ["obama_portrait.jpg", "biden_portrait.jpg", "obama_and_biden.jpg", "biden_standing.jpg"]
ROW_LINE = re.compile(r"^(\S+)\s+DEBUG.*row on screen path=(.+)$")


def make_frames(count, seed=7):
    """Encode `count` different 1024x1024 PNGs (random crops of the bundled photos)."""
    rng = random.Random(seed)
    sources = [Image.open(PHOTOS / name).convert("RGB") for name in FACES]
    frames = []
    for index in range(count):
        source = sources[index % len(sources)]
        side = min(source.size)
        crop = int(side * rng.uniform(0.8, 1.0))
        left = rng.randint(0, source.width - crop)
        top = rng.randint(0, max(0, min(source.height - crop, source.height // 6)))
        image = source.crop((left, top, left + crop, top + crop)).resize((1024, 1024))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        frames.append(buffer.getvalue())
    return frames


def tmux(socket, *args):
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, check=False)


def wait_for_log(log, pattern, deadline):
    while time.time() < deadline:
        if log.exists() and pattern in log.read_text(errors="replace"):
            return True
        time.sleep(0.1)
    return False


def parse_rows(log):
    shown = {}
    for line in log.read_text(errors="replace").splitlines():
        match = ROW_LINE.match(line)
        if match:
            stamp = datetime.datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))
            shown.setdefault(match.group(2).strip(), stamp.timestamp())
    return shown


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "facewatch"))
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--rate", type=float, default=2.0, help="files per second")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("tmux is not installed")

    work = pathlib.Path(tempfile.mkdtemp(prefix="facewatch-latency-"))
    folder = work / "renders"
    folder.mkdir()
    state = work / "state"
    log = state / "facewatch" / "facewatch.log"
    frames = make_frames(args.count)
    socket = f"facewatch-latency-{os.getpid()}"
    command = (
        f"XDG_STATE_HOME={state} FACEWATCH_LOG=facewatch=debug {args.binary} watch {folder} "
        f"--reference {REPO / 'tests' / 'photos' / 'reference'}"
    )
    tmux(socket, "new-session", "-d", "-s", "bench", "-x", "120", "-y", "40", command)
    try:
        if not wait_for_log(log, "models and references ready", time.time() + 60):
            sys.exit(f"the dashboard did not get ready; see {log}")
        written = {}
        interval = 1.0 / args.rate
        start = time.time()
        for index, data in enumerate(frames):
            time.sleep(max(0.0, start + index * interval - time.time()))
            path = folder / f"ComfyUI_{index:05d}_.png"
            with open(path, "wb") as output:
                output.write(data)
            written[str(path)] = time.time()
        time.sleep(3)
    finally:
        tmux(socket, "send-keys", "-t", "bench", "q")
        time.sleep(0.5)
        tmux(socket, "kill-server")

    shown = parse_rows(log)
    latencies = [(shown[path] - done) * 1000 for path, done in written.items() if path in shown]
    missing = len(written) - len(latencies)
    print(f"files written: {len(written)} at {args.rate}/s, 1024x1024 PNG; rows shown: {len(latencies)}; missing: {missing}")
    if latencies:
        print(
            f"latency from last write to row on screen: median {statistics.median(latencies):.0f} ms, "
            f"p95 {percentile(latencies, 0.95):.0f} ms, max {max(latencies):.0f} ms"
        )
    shutil.rmtree(work, ignore_errors=True)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Measure the dashboard's memory with many scored rows in its table.

Writes N small face images (different crops of the bundled portraits, 128x160 PNG)
into a folder, starts `facewatch watch` on it in a private tmux server, waits until
every file has been analysed (counted from the log), and samples the process's
resident memory (VmRSS, VmHWM from /proc) once a second. Prints the peak and the
final resident size.

Usage: python3 benches/watch_memory.py [--binary target/release/facewatch] [--count 10000]
Needs tmux and Pillow (pip install pillow).
"""

import argparse
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import time

from PIL import Image, ImageOps

REPO = pathlib.Path(__file__).resolve().parent.parent
PHOTOS = REPO / "tests" / "photos" / "images"
# Face boxes (left, top, right, bottom) around the face of each portrait, with margin.
PORTRAITS = {
    "obama_portrait.jpg": (560, 180, 1040, 780),
    "biden_portrait.jpg": (380, 120, 820, 700),
}


def write_images(folder, count, seed=11):
    rng = random.Random(seed)
    sources = [(Image.open(PHOTOS / name).convert("RGB"), box) for name, box in PORTRAITS.items()]
    for index in range(count):
        image, (left, top, right, bottom) = sources[index % len(sources)]
        jitter = [rng.randint(-30, 30) for _ in range(4)]
        crop = image.crop((left + jitter[0], top + jitter[1], right + jitter[2], bottom + jitter[3]))
        crop = crop.resize((128, 160))
        if rng.random() < 0.5:
            crop = ImageOps.mirror(crop)
        crop.save(folder / f"face_{index:05d}.png", compress_level=1)


def read_status(pid):
    values = {}
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) // 1024
    except OSError:
        pass
    return values


def find_pid(marker, deadline):
    while time.time() < deadline:
        result = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False)
        pids = [int(pid) for pid in result.stdout.split()]
        for pid in pids:
            if pathlib.Path(f"/proc/{pid}/exe").resolve().name == "facewatch":
                return pid
        time.sleep(0.1)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "facewatch"))
    parser.add_argument("--count", type=int, default=10000)
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="facewatch-memory-"))
    folder = work / "renders"
    folder.mkdir()
    state = work / "state"
    log = state / "facewatch" / "facewatch.log"
    write_images(folder, args.count)
    socket = f"facewatch-memory-{os.getpid()}"
    command = (
        f"XDG_STATE_HOME={state} {args.binary} watch {folder} "
        f"--reference {REPO / 'tests' / 'photos' / 'reference'}"
    )
    subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-s", "bench", "-x", "120", "-y", "40", command], check=True)
    started = time.time()
    peak = 0
    try:
        pid = find_pid(str(folder), time.time() + 30)
        if pid is None:
            sys.exit("facewatch did not start")
        analysed = 0
        while analysed < args.count and time.time() - started < 3600:
            time.sleep(1)
            status = read_status(pid)
            peak = max(peak, status.get("VmHWM", 0))
            if log.exists():
                analysed = log.read_text(errors="replace").count("image analysed")
        final = read_status(pid)
        elapsed = time.time() - started
    finally:
        subprocess.run(["tmux", "-L", socket, "send-keys", "-t", "bench", "q"], check=False)
        time.sleep(0.5)
        subprocess.run(["tmux", "-L", socket, "kill-server"], check=False)
    print(f"rows: {analysed} of {args.count} analysed in {elapsed:.0f} s")
    print(f"peak resident memory (VmHWM): {peak} MiB; resident at the end: {final.get('VmRSS', 0)} MiB")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if analysed >= args.count else 1


if __name__ == "__main__":
    sys.exit(main())

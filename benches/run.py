#!/usr/bin/env python3
"""Benchmark `facewatch scan` against OpenCV's own face pipeline (opencv_scan.py) on the
corpus from make_corpus.py.

Each round runs, one after another: facewatch as users run it, the OpenCV script, and
facewatch with FACEWATCH_SCAN_WORKERS=1 (every stage on one thread, to time each stage
without contention). Interleaving the rounds spreads the machine's background load
over both programs. Prints a Markdown report and writes the raw numbers to
WORK/results.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCHES = REPO / "benches"
OPENCV_PACKAGE = "opencv-python-headless==5.1.0.95"
SHARED_MODELS = REPO.parent / "shared" / "models"
STAGES = ["decode", "resize", "detect", "align", "embed", "score"]


def ensure_opencv():
    probe = [sys.executable, "-c", "import cv2; print(cv2.__version__)"]
    found = subprocess.run(probe, capture_output=True, text=True)
    if found.returncode == 0 and found.stdout.strip() == "5.1.0":
        return
    print(f"installing {OPENCV_PACKAGE} with pip", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", OPENCV_PACKAGE], check=True)


def opencv_models():
    """Return the model arguments for opencv_scan.py and a sentence saying which files
    they are."""
    converted = REPO / "models" / "sface_2021dec_fold_fastprelu_dyn.onnx"
    yunet = SHARED_MODELS / "face_detection_yunet_2023mar_int8bq.onnx"
    sface = SHARED_MODELS / "face_recognition_sface_2021dec_int8bq.onnx"
    if yunet.is_file() and sface.is_file():
        args = ["--yunet", yunet, "--sface-converted", converted, "--sface-original", sface]
        return [str(a) for a in args], "original OpenCV Zoo int8bq YuNet and SFace files"
    yunet = REPO / "models" / "yunet_2023mar_fold_dyn.onnx"
    args = ["--yunet", yunet, "--sface-converted", converted]
    return [str(a) for a in args], "facewatch's converted YuNet and SFace files (originals not present)"


def ensure_corpus(corpus, count, seed):
    manifest = corpus / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text())
        if data.get("seed") == seed and len(data.get("images", [])) == count:
            return
    command = [sys.executable, str(BENCHES / "make_corpus.py"), str(corpus), "--count", str(count), "--seed", str(seed)]
    subprocess.run(command, check=True)


def timed_run(command, stdout_path, env=None):
    """Run `command`, send its stdout to `stdout_path`, and return (wall seconds,
    peak resident memory in MiB)."""
    with open(stdout_path, "w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed with exit code {process.returncode}; command: {command}")
    # ru_maxrss is in KiB on Linux.
    return wall, usage.ru_maxrss / 1024


def facewatch_run(binary, corpus, work, name, workers=None):
    env = dict(os.environ, FACEWATCH_STAGE_TIMINGS=str(work / f"{name}.stages.json"))
    if workers is not None:
        env["FACEWATCH_SCAN_WORKERS"] = str(workers)
    reference = REPO / "tests" / "photos" / "reference"
    command = [str(binary), "scan", "--format", "jsonl", "--reference", str(reference), str(corpus)]
    wall, rss = timed_run(command, work / f"{name}.jsonl", env)
    stages = json.loads((work / f"{name}.stages.json").read_text())
    return {"wall": wall, "rss_mib": rss, "stages": stages, "rows": read_rows(work / f"{name}.jsonl")}


def opencv_run(corpus, work, name, model_args):
    reference = REPO / "tests" / "photos" / "reference"
    command = [sys.executable, str(BENCHES / "opencv_scan.py"), "--reference", str(reference), *model_args, str(corpus)]
    wall, rss = timed_run(command, work / f"{name}.jsonl")
    return {"wall": wall, "rss_mib": rss, "rows": read_rows(work / f"{name}.jsonl")}


def read_rows(path):
    rows = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        rows[Path(row["path"]).name] = row
    return rows


def compare(facewatch_rows, opencv_rows):
    """Return the images whose face count or verdict differ, and the largest distance
    difference between the two programs."""
    differences = []
    largest = 0.0
    for name, theirs in sorted(opencv_rows.items()):
        ours = facewatch_rows.get(name)
        if ours is None:
            differences.append(f"{name}: missing from facewatch's output")
            continue
        if ours["faces"] != theirs["faces"] or ours["passed"] != theirs["passed"]:
            differences.append(
                f"{name}: facewatch {ours['faces']} faces, passed={ours['passed']}; "
                f"OpenCV {theirs['faces']} faces, passed={theirs['passed']}"
            )
        if ours["distance"] is not None and theirs["distance"] is not None:
            largest = max(largest, abs(ours["distance"] - theirs["distance"]))
    return differences, largest


def summarize(rounds, images, cores):
    fast = [r["facewatch"] for r in rounds]
    slow = [r["opencv"] for r in rounds]
    profile = [r["profile"] for r in rounds]
    fw_ips = statistics.median(images / r["wall"] for r in fast)
    cv_ips = statistics.median(images / r["wall"] for r in slow)
    analyze_ms = statistics.median(r["stages"]["analyze_ms"] for r in fast)
    stage_median = {s: statistics.median(r["stages"]["stages_ms"][s] for r in fast) for s in STAGES}
    stage_min = {s: min(r["stages"]["stages_ms"][s] for r in profile) for s in STAGES}
    ideal_ms = sum(stage_min.values()) / images / cores
    wall_ms = analyze_ms / images
    return {
        "images": images,
        "cores": cores,
        "facewatch_images_per_s": fw_ips,
        "opencv_images_per_s": cv_ips,
        "ratio": fw_ips / cv_ips,
        "facewatch_analyze_images_per_s": images / (analyze_ms / 1000),
        "facewatch_workers": fast[0]["stages"]["workers"],
        "stages_ms_median": stage_median,
        "stages_ms_profile_min": stage_min,
        "wall_ms_per_image": wall_ms,
        "ideal_ms_per_image": ideal_ms,
        "wall_over_ideal": wall_ms / ideal_ms,
        "facewatch_peak_rss_mib": max(r["rss_mib"] for r in fast),
        "opencv_peak_rss_mib": max(r["rss_mib"] for r in slow),
        "round_walls_s": {
            "facewatch": [r["wall"] for r in fast],
            "opencv": [r["wall"] for r in slow],
            "facewatch_one_thread": [r["wall"] for r in profile],
        },
    }


def report(summary, differences, largest, models_note):
    s = summary
    lines = [
        f"images: {s['images']}, cores: {s['cores']}, rounds: {len(s['round_walls_s']['opencv'])}; OpenCV used the {models_note}",
        "",
        "| program | images/s (median) | peak RSS (MiB) |",
        "|---|---:|---:|",
        f"| facewatch scan | {s['facewatch_images_per_s']:.2f} | {s['facewatch_peak_rss_mib']:.0f} |",
        f"| OpenCV script | {s['opencv_images_per_s']:.2f} | {s['opencv_peak_rss_mib']:.0f} |",
        f"| ratio | {s['ratio']:.2f}× | |",
        "",
        f"facewatch without start-up (analysis only): {s['facewatch_analyze_images_per_s']:.2f} images/s, "
        f"{s['facewatch_workers']} workers",
        "",
        "| stage | facewatch runs, median (ms) | one-thread runs, minimum (ms) |",
        "|---|---:|---:|",
    ]
    for stage in STAGES:
        lines.append(f"| {stage} | {s['stages_ms_median'][stage]:.0f} | {s['stages_ms_profile_min'][stage]:.0f} |")
    lines.append(
        f"| sum | {sum(s['stages_ms_median'].values()):.0f} | {sum(s['stages_ms_profile_min'].values()):.0f} |"
    )
    lines += [
        "",
        f"wall time per image {s['wall_ms_per_image']:.1f} ms; one-thread stage minimums ÷ {s['cores']} cores "
        f"= {s['ideal_ms_per_image']:.1f} ms; ratio {s['wall_over_ideal']:.2f} (target ≤ 1.30)",
        f"round wall times (s): {json.dumps({k: [round(v, 2) for v in vs] for k, vs in s['round_walls_s'].items()})}",
        "",
        f"agreement: {len(differences)} images differ in face count or verdict; "
        f"largest distance difference {largest:.4f}",
    ]
    lines += [f"  {line}" for line in differences]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each program (default 3)")
    parser.add_argument("--count", type=int, default=210, help="corpus size (default 210)")
    parser.add_argument("--seed", type=int, default=1024, help="corpus seed (default 1024)")
    parser.add_argument("--work", type=Path, default=REPO / "target" / "bench", help="folder for the corpus and outputs")
    parser.add_argument("--binary", type=Path, default=REPO / "target" / "release" / "facewatch")
    args = parser.parse_args()

    if not args.binary.is_file():
        raise SystemExit(f"{args.binary} not found; build it with `cargo build --release`")
    ensure_opencv()
    corpus = args.work / "corpus"
    ensure_corpus(corpus, args.count, args.seed)
    model_args, models_note = opencv_models()
    rounds = []
    for index in range(args.rounds):
        print(f"round {index + 1} of {args.rounds}", file=sys.stderr)
        rounds.append({
            "facewatch": facewatch_run(args.binary, corpus, args.work, f"facewatch_{index}"),
            "opencv": opencv_run(corpus, args.work, f"opencv_{index}", model_args),
            "profile": facewatch_run(args.binary, corpus, args.work, f"one_thread_{index}", workers=1),
        })
    images = len(rounds[0]["opencv"]["rows"])
    summary = summarize(rounds, images, os.cpu_count() or 1)
    differences, largest = compare(rounds[-1]["facewatch"]["rows"], rounds[-1]["opencv"]["rows"])
    summary.update(differences=differences, largest_distance_difference=largest, opencv_models=models_note)
    (args.work / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(report(summary, differences, largest, models_note))


if __name__ == "__main__":
    main()

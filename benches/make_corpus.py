#!/usr/bin/env python3
"""Build the benchmark corpus: 1024x1024 PNG images (the SDXL output size) made from the
photos in tests/photos, with a fixed seed so every run gets the same files.

About two thirds show one face, a sixth show two or three faces (the group photos, or
two portraits side by side) and a sixth show none. Each image gets its own scale,
position, mirror flip and background colour. manifest.json beside the images records
the face count each image was built with.
"""

import argparse
import json
import random
from pathlib import Path

import cv2
import numpy as np

SIDE = 1024
PHOTOS = Path(__file__).resolve().parent.parent / "tests" / "photos"
ONE_FACE = [
    "images/obama_portrait.jpg",
    "images/biden_portrait.jpg",
    "images/biden_standing.jpg",
    "images/obama_exif_rotated.jpg",
    "reference/obama_ref_01.jpg",
    "reference/obama_ref_02.jpg",
    "reference/obama_ref_03.jpg",
]
GROUPS = {"images/obama_and_biden.jpg": 2, "images/obama_biden_child_4100px.jpg": 3}
NO_FACE = [
    "images/rocket.jpg",
    "images/hubble_deep_field.jpg",
    "images/cat.png",
    "images/coffee.png",
    "images/grey_blank.jpg",
]
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 4]


def load(name):
    image = cv2.imread(str(PHOTOS / name), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"failed to read {PHOTOS / name}: missing or not an image")
    return image


def fit(image, long_side):
    """Scale `image` so that its longer side is `long_side` pixels."""
    height, width = image.shape[:2]
    scale = long_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, size, interpolation=interpolation)


def canvas(rng):
    colour = [rng.randrange(30, 226) for _ in range(3)]
    return np.full((SIDE, SIDE, 3), colour, dtype=np.uint8)


def paste(target, image, rng, box):
    """Paste `image` at a random position inside `box` = (x, y, width, height)."""
    x0, y0, box_width, box_height = box
    height, width = image.shape[:2]
    x = x0 + rng.randrange(0, box_width - width + 1)
    y = y0 + rng.randrange(0, box_height - height + 1)
    target[y : y + height, x : x + width] = image


def maybe_flip(image, rng):
    return cv2.flip(image, 1) if rng.random() < 0.5 else image


def one_face(rng, sources):
    image = maybe_flip(fit(sources[rng.choice(ONE_FACE)], rng.randrange(560, SIDE + 1)), rng)
    out = canvas(rng)
    paste(out, image, rng, (0, 0, SIDE, SIDE))
    return out, 1


def several_faces(rng, sources):
    if rng.random() < 0.5:
        name = rng.choice(sorted(GROUPS))
        image = maybe_flip(fit(sources[name], rng.randrange(760, SIDE + 1)), rng)
        out = canvas(rng)
        paste(out, image, rng, (0, 0, SIDE, SIDE))
        return out, GROUPS[name]
    out = canvas(rng)
    left, right = rng.sample(ONE_FACE, 2)
    for half, name in enumerate((left, right)):
        image = maybe_flip(fit(sources[name], rng.randrange(400, SIDE // 2 + 1)), rng)
        paste(out, image, rng, (half * SIDE // 2, 0, SIDE // 2, SIDE))
    return out, 2


def no_face(rng, sources):
    image = sources[rng.choice(NO_FACE)]
    height, width = image.shape[:2]
    # Scale so the image covers the canvas, then cut a random window.
    scale = SIDE / min(height, width) * rng.uniform(1.0, 1.4)
    size = (max(SIDE, round(width * scale)), max(SIDE, round(height * scale)))
    large = maybe_flip(cv2.resize(image, size, interpolation=cv2.INTER_CUBIC), rng)
    x = rng.randrange(0, size[0] - SIDE + 1)
    y = rng.randrange(0, size[1] - SIDE + 1)
    return np.ascontiguousarray(large[y : y + SIDE, x : x + SIDE]), 0


def build(out_dir, count, seed):
    rng = random.Random(seed)
    names = ONE_FACE + sorted(GROUPS) + NO_FACE
    sources = {name: load(name) for name in names}
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    entries = []
    for index in range(count):
        kind = index % 6
        if kind < 4:
            image, faces = one_face(rng, sources)
        elif kind == 4:
            image, faces = several_faces(rng, sources)
        else:
            image, faces = no_face(rng, sources)
        name = f"img_{index:04d}.png"
        if not cv2.imwrite(str(out_dir / name), image, PNG_PARAMS):
            raise SystemExit(f"failed to write {out_dir / name}")
        entries.append({"file": name, "faces_built": faces})
    manifest = {"seed": seed, "side": SIDE, "images": entries}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return entries


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder to write the PNG files into (emptied first)")
    parser.add_argument("--count", type=int, default=210, help="number of images (default 210)")
    parser.add_argument("--seed", type=int, default=1024, help="random seed (default 1024)")
    args = parser.parse_args()
    entries = build(args.out_dir, args.count, args.seed)
    counts = {}
    for entry in entries:
        counts[entry["faces_built"]] = counts.get(entry["faces_built"], 0) + 1
    summary = ", ".join(f"{n} with {faces} face(s)" for faces, n in sorted(counts.items()))
    print(f"corpus: {len(entries)} images in {args.out_dir} ({summary})")


if __name__ == "__main__":
    main()

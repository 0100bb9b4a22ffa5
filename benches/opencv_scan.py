#!/usr/bin/env python3
"""Score images against reference photos with OpenCV's own face pipeline, one image
after another, as a user would write it: cv2.imread, FaceDetectorYN, alignCrop and an
SFace embedding per face, then the cosine distance of the closest face to the mean of
the references' largest-face embeddings.

The detector runs on a copy whose long side is at most 640 pixels (cv2.INTER_AREA)
and, when that finds nothing, at the native size (for images at least twice that
size) and then at half the first size, which is the rule facewatch follows. Prints one JSON line per image.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np

SCORE_THRESHOLD = 0.9
NMS_THRESHOLD = 0.3
TOP_K = 5000
# OpenCV Zoo's same-person threshold for SFace: cosine similarity >= 0.363.
COSINE_DISTANCE_THRESHOLD = 0.637
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def round_half_away(value):
    return math.floor(value + 0.5)


def detection_sizes(width, height, long_side):
    """Sizes to try, in order: fit to `long_side`, native (only for images at least
    twice that size), then half of the smaller of `long_side` and the native size."""
    native = (width, height)
    longest = max(width, height)

    def fit(side):
        if side >= longest:
            return native
        scale = side / longest
        return (max(1, round_half_away(width * scale)), max(1, round_half_away(height * scale)))

    sizes = []
    candidates = [fit(long_side)]
    if longest >= 2 * long_side:
        candidates.append(native)
    candidates.append(fit(min(long_side, longest) // 2))
    for size in candidates:
        if size not in sizes and size[0] >= 16 and size[1] >= 16:
            sizes.append(size)
    return sizes or [native]


class FacePipeline:
    def __init__(self, yunet_path, sface_path, sface_original):
        self.detector = cv2.FaceDetectorYN.create(
            str(yunet_path), "", (320, 320), SCORE_THRESHOLD, NMS_THRESHOLD, TOP_K
        )
        # alignCrop needs a FaceRecognizerSF; it loads facewatch's converted SFace file,
        # because OpenCV 5.1 rejects the original int8bq file here.
        self.recognizer = cv2.FaceRecognizerSF.create(str(sface_path["converted"]), "")
        self.net = cv2.dnn.readNet(str(sface_path["original"])) if sface_original else None

    def embed(self, crop):
        if self.net is None:
            return self.recognizer.feature(crop).flatten()
        blob = cv2.dnn.blobFromImage(crop, 1.0, (112, 112), (0, 0, 0), swapRB=True)
        self.net.setInput(blob, "data")
        return self.net.forward().flatten()

    def detect(self, image, long_side):
        height, width = image.shape[:2]
        for size in detection_sizes(width, height, long_side):
            small = image if size == (width, height) else cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            self.detector.setInputSize(size)
            _, faces = self.detector.detect(small)
            if faces is not None and len(faces) > 0:
                faces = faces.copy()
                faces[:, :14] *= width / size[0]
                return faces
        return np.zeros((0, 15), dtype=np.float32)

    def analyze(self, path, long_side):
        """Return the embeddings of every face in the file, largest box first, or None
        when OpenCV cannot read it."""
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            return None
        faces = self.detect(image, long_side)
        order = np.argsort(-(faces[:, 2] * faces[:, 3]), kind="stable")
        return [self.embed(self.recognizer.alignCrop(image, faces[i])) for i in order]


def cosine_distance(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return float(1.0 - np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def image_files(folder):
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def reference_mean(pipeline, folder, long_side):
    largest = []
    for path in image_files(folder):
        embeddings = pipeline.analyze(path, long_side)
        if embeddings:
            largest.append(embeddings[0].astype(np.float64))
    if not largest:
        raise SystemExit(f"no reference photo in {folder} has a face")
    return np.mean(largest, axis=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, type=Path, help="folder of reference photos")
    parser.add_argument("--yunet", required=True, type=Path, help="YuNet ONNX file for FaceDetectorYN")
    parser.add_argument("--sface-converted", required=True, type=Path, help="SFace file FaceRecognizerSF can load")
    parser.add_argument("--sface-original", type=Path, help="original SFace file, run with cv2.dnn.readNet")
    parser.add_argument("--detect-size", type=int, default=640, help="long side in pixels of the detector's copy")
    parser.add_argument("folder", type=Path, help="folder of images to score")
    args = parser.parse_args()

    paths = {"converted": args.sface_converted, "original": args.sface_original}
    pipeline = FacePipeline(args.yunet, paths, args.sface_original is not None)
    mean = reference_mean(pipeline, args.reference, args.detect_size)
    out = sys.stdout
    for path in image_files(args.folder):
        embeddings = pipeline.analyze(path, args.detect_size)
        row = {"path": str(path), "faces": 0, "distance": None, "passed": False}
        if embeddings is None:
            row["error"] = "cv2.imread failed"
        elif embeddings:
            distance = min(cosine_distance(e, mean) for e in embeddings)
            row.update(faces=len(embeddings), distance=distance, passed=distance <= COSINE_DISTANCE_THRESHOLD)
        out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

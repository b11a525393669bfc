#!/usr/bin/env python3
"""Writes test/fixtures/opencv-preprocess.json: the model input that DDColor's official inference
code computes (ColorizationPipeline.process in the DDColor repository) for a few small pictures,
with OpenCV itself. The tests compare ddcolor's own pre-processing with it.

Needs python3 with OpenCV and numpy (Debian: apt-get install python3-opencv). Not run by the tests;
run it again only to regenerate the fixture: /usr/bin/python3 scripts/opencv-reference.py
"""
import json
import os

import cv2
import numpy as np


def picture(width, height, seed):
    """Deterministic 8-bit RGB noise with edges (a linear congruential generator, as the test can redo)."""
    values = []
    state = seed
    for _ in range(width * height * 3):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        values.append((state >> 16) & 255)
    return np.array(values, dtype=np.uint8).reshape(height, width, 3)


def official_input(rgb, size):
    """DDColor's pre-processing, line for line (the file is read as BGR by cv2.imread)."""
    img = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    img = (img / 255.0).astype(np.float32)
    img = cv2.resize(img, (size, size))
    img_l = cv2.cvtColor(img, cv2.COLOR_BGR2Lab)[:, :, :1]
    img_gray_lab = np.concatenate((img_l, np.zeros_like(img_l), np.zeros_like(img_l)), axis=-1)
    img_gray_rgb = cv2.cvtColor(img_gray_lab, cv2.COLOR_LAB2RGB)
    return img_gray_rgb.transpose((2, 0, 1))  # CHW


def main():
    inputs = [
        {"width": 37, "height": 23, "seed": 7, "gray": False},
        {"width": 32, "height": 32, "seed": 11, "gray": False},
        {"width": 29, "height": 41, "seed": 5, "gray": True},
    ]
    cases = []
    for index, spec in enumerate(inputs):
        rgb = picture(spec["width"], spec["height"], spec["seed"])
        if spec["gray"]:
            rgb = np.repeat(rgb[:, :, :1], 3, axis=2)  # a gray scan, as cv2.imread returns it
        for size in (16, 40):
            tensor = official_input(rgb, size)
            cases.append({"input": index, "size": size, "tensor": [round(float(v), 6) for v in tensor.reshape(-1)]})
    out = {
        "generator": "scripts/opencv-reference.py",
        "opencv": cv2.__version__,
        "inputs": inputs,
        "cases": cases,
    }
    path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "opencv-preprocess.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()

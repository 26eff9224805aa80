"""Embedded synthetic occluded-face dataset (a stand-in for AOFD's SFS occlusion-segmentation set).

Images are generated in code, nothing is shipped: photograph-like backgrounds (gradients,
low-frequency noise, textured rectangles, blobs, lines), faces at many scales (skin ellipse with
hair, ears, eyes, brows, nose, mouth, shading, roll and yaw), occluders over a fraction of them
(surgical / cloth mask, sunglasses, a hand, another face in front) and face-like distractors that
are not annotated (skin blobs, hands, discs with two dots, balls, backs of heads). Drawing
primitives live in :mod:`.synthetic_render`.

Determinism: image ``i`` of a split depends only on ``(seed, i, params)`` (its random stream is
``SeedSequence([seed, i])``), not on the number of images, the order or the process.

Annotations (``docs/data_format.md``): ``bbox`` is the tight integer box ``[x, y, w, h]`` of the
face ellipse's pixels (pixel centres inside the ellipse), occluded part included, like WIDER; it
always lies inside the image. ``occluded`` / ``masked`` / ``attributes = {"occluder":
"none"|"mask"|"sunglasses"|"hand"|"face", "occluded_fraction": float}`` are measured from the
rendered pixels: the occluder is the one covering most of the face (``"none"`` and fraction 0 when
nothing covers it), ``masked`` is ``occluder == "mask"``. ``ignore`` is 0, except faces under
``IGNORE_BELOW_HEIGHT`` (6) px tall get ``ignore = 1`` (the WIDER evaluator then neither rewards nor
punishes them); with the default face-height range none are that small.

Occlusion mask: uint8 HxW, 1 at the pixels inside some face's ellipse that are covered (alpha >= 0.5)
by an occluder or by another face (hair, skin, neck) drawn in front of it, 0 elsewhere.

Splits are written in the SFS folder format (``images/<name>.jpg``, ``masks/<name>.png``,
``faces.txt``; plus ``annotations.json`` with the full annotations) into
``facelib.paths.cache_root()/synthetic/<key>/`` where ``key`` hashes ``(FORMAT_VERSION, seed,
num_images, params)``; the folder is built in a temporary folder and renamed into place, so racing
processes are safe and an existing split is reused.

CLI: ``python -m facelib.data.datasets.synthetic --out DIR --num N --seed S``.
"""
import argparse
import dataclasses
import hashlib
import json
import logging
import math
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from facelib.paths import cache_root
from facelib.utils.progress import logged_progress

from . import synthetic_render as R
from .common import drop_degenerate_boxes, make_face_annotation

logger = logging.getLogger(__name__)

__all__ = [
    "FORMAT_VERSION", "OCCLUDERS", "IGNORE_BELOW_HEIGHT", "SyntheticFaceParams", "SYNTHETIC_SPLITS",
    "render_synthetic_image", "synthetic_key", "synthetic_split_dir", "materialize_synthetic",
    "load_synthetic", "load_synthetic_split", "register_all_synthetic",
]

FORMAT_VERSION = 2  # bump whenever the rendering or the folder layout changes (invalidates caches)
OCCLUDERS = ("none", "mask", "sunglasses", "hand", "face")
IGNORE_BELOW_HEIGHT = 6


@dataclasses.dataclass(frozen=True)
class SyntheticFaceParams:
    """Generator parameters (ranges are inclusive ``(low, high)``)."""

    width_range: Tuple[int, int] = (512, 768)
    height_range: Tuple[int, int] = (384, 576)
    faces_per_image: Tuple[int, int] = (1, 8)
    # Face box height in px, sampled log-uniformly; the top is capped at 0.9 x the image's short side.
    face_height_range: Tuple[float, float] = (8.0, 400.0)
    occluded_fraction: float = 0.4
    occluder_weights: Tuple[Tuple[str, float], ...] = (
        ("mask", 0.4), ("sunglasses", 0.2), ("hand", 0.2), ("face", 0.2))
    distractors_per_image: Tuple[int, int] = (1, 5)
    max_rotation_deg: float = 15.0
    aspect_range: Tuple[float, float] = (0.72, 0.86)  # face ellipse width / height
    image_format: str = "jpg"  # "jpg" (quality jpeg_quality) or "png" when materialized
    jpeg_quality: int = 95

    def validate(self) -> "SyntheticFaceParams":
        def rng_ok(name, lo_min):
            lo, hi = getattr(self, name)
            if not (lo_min <= lo <= hi):
                raise ValueError(f"SyntheticFaceParams.{name} must be (low, high) with {lo_min} <= low <= high, "
                                 f"got {(lo, hi)}")
        rng_ok("width_range", 16)
        rng_ok("height_range", 16)
        rng_ok("faces_per_image", 0)
        rng_ok("face_height_range", 1.0)
        rng_ok("distractors_per_image", 0)
        rng_ok("aspect_range", 0.3)
        if self.aspect_range[1] > 1.0:
            raise ValueError(f"SyntheticFaceParams.aspect_range must be <= 1 (width / height), got {self.aspect_range}")
        if not 0.0 <= self.occluded_fraction <= 1.0:
            raise ValueError(f"SyntheticFaceParams.occluded_fraction must be in [0, 1], got {self.occluded_fraction}")
        names = [k for k, _ in self.occluder_weights]
        if not names or any(k not in OCCLUDERS[1:] for k in names) or any(w < 0 for _, w in self.occluder_weights) \
                or sum(w for _, w in self.occluder_weights) <= 0:
            raise ValueError(f"SyntheticFaceParams.occluder_weights must be ((name, weight>=0), ...) with names in "
                             f"{OCCLUDERS[1:]} and a positive total, got {self.occluder_weights}")
        if self.image_format not in ("jpg", "png"):
            raise ValueError(f"SyntheticFaceParams.image_format must be 'jpg' or 'png', got {self.image_format!r}")
        return self

    def to_json(self) -> Dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))


TINY_PARAMS = SyntheticFaceParams(width_range=(160, 224), height_range=(120, 176), faces_per_image=(2, 4),
                                  face_height_range=(8.0, 80.0), distractors_per_image=(0, 2))

# name -> (seed, num_images, params). Disjoint seeds: val is held out from train.
SYNTHETIC_SPLITS = {
    "synthetic_faces_train": (0, 400, SyntheticFaceParams()),
    "synthetic_faces_val": (1, 100, SyntheticFaceParams()),
    "synthetic_faces_tiny": (2, 8, TINY_PARAMS),
}


# ---------------------------------------------------------------------------------------- rendering
def _log_uniform(rng, lo, hi, n=None):
    return np.exp(rng.uniform(math.log(lo), math.log(hi), n))


def _ellipse_extent(a, b, angle):
    c, s = math.cos(angle), math.sin(angle)
    return math.sqrt((a * c) ** 2 + (b * s) ** 2), math.sqrt((a * s) ** 2 + (b * c) ** 2)


def _face_geometry(rng, height, params):
    """``(a, b, angle, hx, hy)`` of a face whose box is ``height`` px tall."""
    mr = math.radians(params.max_rotation_deg)
    angle = float(np.clip(rng.normal(0, mr / 2), -mr, mr)) if mr > 0 else 0.0
    k = rng.uniform(*params.aspect_range)
    b = height / 2 / math.sqrt((k * math.sin(angle)) ** 2 + math.cos(angle) ** 2)
    a = k * b
    hx, hy = _ellipse_extent(a, b, angle)
    return a, b, angle, hx, hy


def _layout(rng, h, w, params):
    """Face placements (back-to-front draw order) and distractor placements."""
    hmax = min(params.face_height_range[1], 0.9 * min(h, w))
    hmin = min(params.face_height_range[0], hmax)
    n = int(rng.integers(params.faces_per_image[0], params.faces_per_image[1] + 1))
    heights = np.sort(_log_uniform(rng, hmin, hmax, n))[::-1] if n else []
    names = [k for k, _ in params.occluder_weights]
    weights = np.array([wt for _, wt in params.occluder_weights], np.float64)
    weights /= weights.sum()
    circles, faces = [], []  # circles: (x, y, r) of every placed face (hair, neck, hand included)

    def free(x, y, r):
        return all((x - cx) ** 2 + (y - cy) ** 2 > (r + cr) ** 2 for cx, cy, cr in circles)

    for height in heights:
        kind = "none"
        if rng.random() < params.occluded_fraction:
            kind = names[int(rng.choice(len(names), p=weights))]
        a, b, angle, hx, hy = _face_geometry(rng, float(height), params)
        rad = (2.0 if kind == "hand" else 1.45) * b
        front = None
        if kind == "face":  # a second face in front, overlapping this one
            fh = min(float(height) * rng.uniform(0.8, 1.25), hmax)
            fa, fb, fangle, fhx, fhy = _face_geometry(rng, fh, params)
            psi = rng.uniform(-0.6, 1.1)
            side = 1.0 if rng.random() < 0.5 else -1.0
            dist = rng.uniform(0.6, 1.0) * (hx + fhx)
            off = (side * dist * math.cos(psi), dist * math.sin(psi))
        for _ in range(30):
            cx, cy = rng.uniform(hx, w - hx), rng.uniform(hy, h - hy)
            if not free(cx, cy, rad):
                continue
            if kind == "face":
                fx, fy = cx + off[0], cy + off[1]
                if not (fhx <= fx <= w - fhx and fhy <= fy <= h - fhy) or not free(fx, fy, 1.45 * fb):
                    continue
                front = dict(cx=fx, cy=fy, a=fa, b=fb, angle=fangle, occluder="none")
                circles.append((fx, fy, 1.45 * fb))
            circles.append((cx, cy, rad))
            faces.append(dict(cx=cx, cy=cy, a=a, b=b, angle=angle, occluder=kind))
            if front is not None:
                faces.append(front)
            break
    distractors = []
    nd = int(rng.integers(params.distractors_per_image[0], params.distractors_per_image[1] + 1))
    for _ in range(nd):
        size = float(_log_uniform(rng, max(hmin, 10.0), max(hmax * 0.6, max(hmin, 10.0) + 1)))
        for _ in range(10):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            if free(x, y, 0.9 * size):
                distractors.append((x, y, rng.uniform(-0.5, 0.5), size))
                break
    return faces, distractors


def render_synthetic_image(seed: int, index: int, params: Optional[SyntheticFaceParams] = None):
    """Render image ``index`` of the split ``seed``: ``(image_bgr uint8 HxWx3, annotations,
    occlusion_mask uint8 HxW)``. Pure: no disk access; identical output for identical arguments."""
    params = (params or SyntheticFaceParams()).validate()
    if int(seed) < 0 or int(index) < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))
    h = int(rng.integers(params.height_range[0], params.height_range[1] + 1))
    w = int(rng.integers(params.width_range[0], params.width_range[1] + 1))
    faces, distractors = _layout(rng, h, w, params)
    canvas = R.draw_background(rng, h, w)
    for x, y, ang, size in distractors:
        R.draw_distractor(canvas, rng, R.Frame(x, y, ang), size)

    layers = []  # (kind, face index, Layer) in draw order
    for fi, f in enumerate(faces):
        frame = R.Frame(f["cx"], f["cy"], f["angle"])
        a, b, rad = f["a"], f["b"], 1.5 * f["b"] + 2
        face_layer = R.draw_face(canvas, rng, frame, a, b, (f["cx"] - rad, f["cy"] - rad, f["cx"] + rad, f["cy"] + rad))
        f["layer_pos"] = len(layers)
        layers.append(("face", fi, face_layer))
        occ = f["occluder"]
        if occ == "mask":
            layers.append(("mask", fi, R.draw_mask(canvas, rng, frame, a, b)))
        elif occ == "sunglasses":
            layers.append(("sunglasses", fi, R.draw_sunglasses(canvas, rng, frame, a, b)))
        elif occ == "hand":
            skin = face_layer.skin * rng.uniform(0.92, 1.06) if rng.random() < 0.7 else None
            layers.append(("hand", fi, R.draw_hand(canvas, rng, frame, a, b, skin=skin)))
    image = R.finish(rng, canvas)

    footprints = [lay.footprint() for _, _, lay in layers]
    occlusion = np.zeros((h, w), np.uint8)
    annotations = []
    for f in faces:
        hx, hy = _ellipse_extent(f["a"], f["b"], f["angle"])
        x0, y0 = max(int(math.floor(f["cx"] - hx)) - 1, 0), max(int(math.floor(f["cy"] - hy)) - 1, 0)
        x1, y1 = min(int(math.ceil(f["cx"] + hx)) + 1, w), min(int(math.ceil(f["cy"] + hy)) + 1, h)
        u, v = R.Frame(f["cx"], f["cy"], f["angle"]).grid(x0, y0, x1, y1)
        inside = (u / f["a"]) ** 2 + (v / f["b"]) ** 2 <= 1.0
        area = int(inside.sum())
        if area == 0:
            continue
        rows, cols = np.nonzero(inside.any(1))[0], np.nonzero(inside.any(0))[0]
        bbox = [x0 + cols[0], y0 + rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1]
        covered = np.zeros_like(inside)
        by_kind = {}
        for (kind, _, lay), fp in zip(layers[f["layer_pos"] + 1:], footprints[f["layer_pos"] + 1:]):
            ix0, iy0, ix1, iy1 = max(x0, lay.x0), max(y0, lay.y0), min(x1, lay.x1), min(y1, lay.y1)
            if ix1 <= ix0 or iy1 <= iy0:
                continue
            hit = (inside[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
                   & fp[iy0 - lay.y0:iy1 - lay.y0, ix0 - lay.x0:ix1 - lay.x0])
            if hit.any():
                cov = covered[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
                by_kind[kind] = by_kind.get(kind, 0) + int((hit & ~cov).sum())
                cov |= hit
        n_cov = int(covered.sum())
        occluder = max(by_kind, key=by_kind.get) if n_cov else "none"
        occlusion[y0:y1, x0:x1] |= covered.astype(np.uint8)
        annotations.append(make_face_annotation(
            [float(c) for c in bbox], ignore=int(bbox[3] < IGNORE_BELOW_HEIGHT), masked=occluder == "mask",
            occluded=n_cov > 0, attributes={"occluder": occluder, "occluded_fraction": round(n_cov / area, 4)}))
    return image, annotations, occlusion


# ---------------------------------------------------------------------------------------- on disk
def synthetic_key(seed: int, num_images: int, params: Optional[SyntheticFaceParams] = None) -> str:
    params = params or SyntheticFaceParams()
    blob = json.dumps([FORMAT_VERSION, int(seed), int(num_images), params.to_json()], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def synthetic_split_dir(seed: int, num_images: int, params: Optional[SyntheticFaceParams] = None) -> str:
    """The cache folder of a split: ``cache_root()/synthetic/<key>`` (nothing is created)."""
    return os.path.join(cache_root(), "synthetic", synthetic_key(seed, num_images, params))


def _read_info(split_dir):
    path = os.path.join(split_dir, "annotations.json")
    if not os.path.isfile(path) or not os.path.isfile(os.path.join(split_dir, "faces.txt")):
        return None
    with open(path) as f:
        return json.load(f)


def _render_and_write(job):
    seed, index, params, out_dir = job
    image, anns, occ = render_synthetic_image(seed, index, params)
    name = f"{index:06d}"
    img_rel, mask_rel = f"images/{name}.{params.image_format}", f"masks/{name}.png"
    flags = []
    if params.image_format == "jpg":  # no chroma subsampling: small faces keep their colour edges
        flags = [cv2.IMWRITE_JPEG_QUALITY, params.jpeg_quality,
                 cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    if not cv2.imwrite(os.path.join(out_dir, img_rel), image, flags) or \
            not cv2.imwrite(os.path.join(out_dir, mask_rel), occ):
        raise OSError(f"Could not write synthetic image {index} into '{out_dir}'")
    faces = [{"bbox": [int(v) for v in a["bbox"]], "ignore": a["ignore"], "masked": a["masked"],
              "occluded": a["occluded"], "attributes": a["attributes"]} for a in anns]
    return {"file": img_rel, "mask": mask_rel, "height": image.shape[0], "width": image.shape[1], "faces": faces}


def materialize_synthetic(split_dir: Optional[str] = None, seed: int = 0, num_images: int = 100,
                          params: Optional[SyntheticFaceParams] = None, num_workers: Optional[int] = None) -> str:
    """Write a split in the SFS folder format (``docs/data_format.md``) plus ``annotations.json``
    and return its folder. ``split_dir`` defaults to :func:`synthetic_split_dir`. Nothing is done
    when the folder already holds this split; it is built in a temporary sibling folder and renamed
    into place (atomic; a process losing a race keeps the winner's identical copy)."""
    params = (params or SyntheticFaceParams()).validate()
    if num_images < 0:
        raise ValueError(f"num_images must be >= 0, got {num_images}")
    key = synthetic_key(seed, num_images, params)
    split_dir = os.path.abspath(split_dir or synthetic_split_dir(seed, num_images, params))
    info = _read_info(split_dir)
    if info is not None:
        if info.get("key") != key:
            raise FileExistsError(f"'{split_dir}' holds another synthetic split (key {info.get('key')}, "
                                  f"seed {info.get('seed')}, {info.get('num_images')} images); expected key {key}")
        return split_dir
    if os.path.isdir(split_dir) and os.listdir(split_dir):
        raise FileExistsError(f"'{split_dir}' exists, is not empty and is not a synthetic split; choose another folder")
    parent = os.path.dirname(split_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".tmp-{os.path.basename(split_dir)}-", dir=parent)
    try:
        os.makedirs(os.path.join(tmp, "images"))
        os.makedirs(os.path.join(tmp, "masks"))
        jobs = [(int(seed), i, params, tmp) for i in range(num_images)]
        desc = f"Rendering the synthetic split {os.path.basename(split_dir)} (first use; cached in {parent})"
        logger.info("%s: %d images", desc, num_images)
        if num_workers is None:
            num_workers = min(os.cpu_count() or 1, 8) if num_images >= 16 else 0
        if num_workers > 1:
            # Fork is fast (no re-import); OpenCV's thread count is set to 1 *before* forking (setting it
            # in a forked child can deadlock) so the workers do not oversubscribe the cores.
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            old_threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            try:
                with ProcessPoolExecutor(num_workers, mp_context=mp.get_context(method)) as ex:
                    records = list(logged_progress(
                        ex.map(_render_and_write, jobs, chunksize=max(1, num_images // (8 * num_workers))),
                        total=num_images, desc=desc, logger=logger, unit="images"))
            finally:
                cv2.setNumThreads(old_threads)
        else:
            records = list(logged_progress(map(_render_and_write, jobs), total=num_images, desc=desc,
                                           logger=logger, unit="images"))
        info = {"format_version": FORMAT_VERSION, "key": key, "seed": int(seed), "num_images": int(num_images),
                "params": params.to_json(), "images": records}
        lines = [f"# facelib synthetic faces (facelib.data.datasets.synthetic): format_version={FORMAT_VERSION} "
                 f"key={key} seed={seed} num_images={num_images}",
                 "# params: " + json.dumps(params.to_json(), sort_keys=True)]
        for r in records:
            lines.append(f"{r['file']} {r['mask']}")
            lines.append(str(len(r["faces"])))
            lines.extend("{} {} {} {} {}".format(*fc["bbox"], int(fc["occluded"])) for fc in r["faces"])
        with open(os.path.join(tmp, "faces.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(tmp, "annotations.json"), "w") as f:
            json.dump(info, f)
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, split_dir)  # replaces an empty folder; fails if another process won
        except OSError:
            other = _read_info(split_dir)
            if other is None or other.get("key") != key:
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return split_dir


def load_synthetic_split(split_dir: str, dataset_name: str = "synthetic") -> List[Dict]:
    """Dataset dicts (``docs/data_format.md``) of a materialized split folder."""
    info = _read_info(split_dir)
    if info is None:
        raise FileNotFoundError(f"Dataset '{dataset_name}': '{split_dir}' is not a synthetic split "
                                "(needs faces.txt and annotations.json; see materialize_synthetic)")
    split_dir = os.path.abspath(split_dir)
    dicts = []
    for r in info["images"]:
        anns = [make_face_annotation([float(v) for v in fc["bbox"]], ignore=fc["ignore"], masked=fc["masked"],
                                     occluded=fc["occluded"], attributes=dict(fc["attributes"])) for fc in r["faces"]]
        stem = os.path.splitext(os.path.basename(r["file"]))[0]
        dicts.append({"file_name": os.path.join(split_dir, r["file"]), "image_id": f"synthetic/{stem}",
                      "height": int(r["height"]), "width": int(r["width"]), "annotations": anns,
                      "occlusion_mask_file": os.path.join(split_dir, r["mask"])})
    drop_degenerate_boxes(dicts, dataset_name)
    return dicts


def load_synthetic(name: str = "synthetic", seed: int = 0, num_images: int = 100,
                   params: Optional[SyntheticFaceParams] = None) -> List[Dict]:
    """Materialize (cached) and load a split; ``name`` names it in log messages."""
    return load_synthetic_split(materialize_synthetic(None, seed, num_images, params), name)


def register_all_synthetic(splits: Optional[Dict] = None) -> List[str]:
    """Register the synthetic splits (default :data:`SYNTHETIC_SPLITS`) lazily with detectron2's
    catalogs; names already registered are skipped. Returns the names registered now."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    done = []
    for name, (seed, num, params) in (splits or SYNTHETIC_SPLITS).items():
        if name in DatasetCatalog.list():
            continue
        DatasetCatalog.register(name, lambda n=name, s=seed, k=num, p=params: load_synthetic(n, s, k, p))
        MetadataCatalog.get(name).set(thing_classes=["face"], evaluator_type="wider_face", occlusion_masks=True,
                                      dataset_root=synthetic_split_dir(seed, num, params))
        done.append(name)
    return done


# ---------------------------------------------------------------------------------------- CLI
def summarize(dicts: List[Dict]) -> str:
    anns = [a for d in dicts for a in d["annotations"]]
    kinds = {k: sum(a["attributes"]["occluder"] == k for a in anns) for k in OCCLUDERS}
    hs = [a["bbox"][3] for a in anns]
    text = f"{len(dicts)} images, {len(anns)} faces"
    if hs:
        text += f", face height {min(hs):.0f}..{max(hs):.0f} px (median {float(np.median(hs)):.0f})"
    text += ", occluders: " + ", ".join(f"{k} {v}" for k, v in kinds.items())
    return text + f", ignored (< {IGNORE_BELOW_HEIGHT} px) {sum(a['ignore'] for a in anns)}"


def main(argv=None):
    p = argparse.ArgumentParser(description="Write a synthetic occluded-face split in the SFS folder format.")
    p.add_argument("--out", required=True, help="output folder (created; reused if it already holds this split)")
    p.add_argument("--num", type=int, default=100, help="number of images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, help="fixed image width (default: 512..768)")
    p.add_argument("--height", type=int, help="fixed image height (default: 384..576)")
    p.add_argument("--occluded-fraction", type=float, default=SyntheticFaceParams.occluded_fraction)
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU count, at most 8)")
    args = p.parse_args(argv)
    kw = {"occluded_fraction": args.occluded_fraction}
    if args.width:
        kw["width_range"] = (args.width, args.width)
    if args.height:
        kw["height_range"] = (args.height, args.height)
    params = SyntheticFaceParams(**kw)
    t0 = time.perf_counter()
    out = materialize_synthetic(args.out, args.seed, args.num, params, num_workers=args.workers)
    dt = time.perf_counter() - t0
    print(f"{out}: {summarize(load_synthetic_split(out))} ({dt:.1f} s)")


if __name__ == "__main__":
    main()

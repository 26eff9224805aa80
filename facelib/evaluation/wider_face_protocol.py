"""The WIDER FACE evaluation protocol, reproducing the official Matlab kit (pure numpy).

The official kit (``eval_tools``: ``wider_eval.m``, ``read_pred.m``, ``norm_score.m``,
``evaluation.m`` with ``image_evaluation`` / ``image_pr_info`` / ``dataset_pr_info``, ``boxoverlap.m``,
``plot/VOCap.m``) computes, for each setting (easy / medium / hard):

1. **Reading** (``read_pred.m``): ``<pred_dir>/<event>/<name>.txt`` per image of ``file_list``: line 1 the
   image name (not used), line 2 the number of boxes ``n``, then ``n`` lines ``x y w h score`` (extra
   columns ignored). A missing file, ``n = 0`` or a malformed file (too few lines or values) gives no
   detections. The boxes are sorted by score, descending, with Matlab's *stable* sort (ties keep the
   file order), so an unsorted submission scores the same as a sorted one. (Here blank lines are
   skipped, and a file with a non-finite value (``nan``, ``inf``) is invalid, reported like any
   other invalid file; non-finite scores passed to :func:`evaluate_wider` directly are a
   ``ValueError``.)
2. **Score normalisation** (``norm_score.m``): one global ``max_score`` / ``min_score`` over every image's
   scores, starting from ``realmin('single')`` / ``realmax('single')``; each score becomes
   ``(s - min) / (max - min)``. Because the initial values are ``single``, Matlab's mixed
   single/double rules make the extremes and the normalised scores single precision (stored back into
   the double matrix). We reproduce this in float32: the double operands converted to single, then
   IEEE single arithmetic (modelled without Matlab at hand; rounding the exact double result to single
   instead could differ in the last bit of a few scores). Note the consequences of the initial values: if every score is negative,
   ``max_score`` stays ``realmin('single')`` (~1.2e-38), so the best score does not map to 1; if all
   scores are equal and positive, ``max == min`` and every normalised score is NaN (never counted).
3. **Matching** (``image_evaluation``), per image with at least one face and one prediction (other
   images are skipped; their faces still count in the recall denominator): for each prediction in
   score order, ``[max_overlap, idx] = max(boxoverlap(gt, pred))``; when ``max_overlap >= 0.5``: a face
   outside the setting's ``gt_list`` marks the prediction ``-1`` (neither true nor false positive); a
   kept face not yet recalled becomes recalled (true positive); a kept face already recalled leaves
   the prediction a plain proposal (a duplicate: counts as a false positive). An unmatched
   prediction is a proposal (false positive). Matching uses *all* faces of the image (the setting only
   decides which are kept), so it is computed once for the three settings.
4. **Curve** (``image_pr_info`` / ``dataset_pr_info``): 1000 thresholds ``1 - t/1000`` (t = 1..1000); per
   image ``r_index`` = last prediction with normalised score >= threshold, ``pr(t,1)`` = proposals (not
   ``-1``) among predictions ``1..r_index``, ``pr(t,2)`` = faces recalled by them; summed over images;
   precision = ``pr(:,2) / pr(:,1)`` (NaN when 0/0), recall = ``pr(:,2) / count_face`` with ``count_face``
   the number of kept faces of all images.
5. **AP** (``VOCap.m``): :func:`facelib.evaluation.voc_ap.voc_ap` on (recall, precision). Matlab's
   ``max`` ignores NaN, which for the precision envelope is the same as taking NaN precision as 0.

IoU modes (``boxoverlap.m``):

* ``"official"``: the ground-truth boxes of the ``.mat`` files are ``int32``. The ``boxoverlap.m``
  found in copies of the kit such as peiyunh/tiny's ``eval_tools`` does not convert them, so Matlab
  evaluates every expression that mixes int32 and double in int32: the double result is rounded
  half away from zero and saturated after each operation. Hence ``x1 = round(max(gx1, px1))``
  (likewise y1, x2, y2 with ``x2 = x + w``), ``inter = (x2-x1+1)(y2-y1+1)``,
  ``union = round(gt_area + pred_area) - inter`` (``+1`` areas; the prediction area in double) and
  ``IoU = round(inter / union)``, which is 0 or 1 (so the IoU threshold only acts through the
  rounding: any threshold in (0, 1] behaves like 0.5). ``max`` then returns the *first* face in
  annotation order whose rounded IoU is 1 (true IoU >= 0.5 in that arithmetic), not the
  best-overlapping one.
* ``"float"``: double-precision IoU with the same ``+1`` convention and best-overlap matching (first
  face among equal maxima), as in the public Python ports (wondervictor/WiderFace-Evaluation,
  biubug6/Pytorch_Retinaface ``widerface_evaluate``). This is also exactly what the kit computes
  when its ``boxoverlap.m`` starts with ``a = double(a);`` - the copy of ``eval_tools.zip`` with
  baselines up to MogFace has that line. Unlike the ports, reading still sorts by score and the
  normalisation follows ``norm_score.m`` (the ports start from ``max = 0, min = 1`` and do not sort).

Everything is vectorised: the match of each prediction is computed once per image (independent of
the threshold and of the setting), and the per-threshold counts come from histograms of the first
threshold that includes each prediction, accumulated over thresholds. This equals the loops exactly
because the predictions included at a threshold are a prefix of the score-sorted list.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from facelib.utils.progress import logged_progress

from .voc_ap import voc_ap

__all__ = [
    "SETTINGS",
    "IOU_MODES",
    "WiderFaceGT",
    "WiderSettingResult",
    "SubmissionReadResult",
    "round_half_away",
    "load_wider_gt",
    "read_prediction_file",
    "read_submission",
    "write_submission",
    "sort_predictions",
    "normalize_scores",
    "match_image",
    "evaluate_wider",
    "format_results_line",
]

logger = logging.getLogger(__name__)

SETTINGS = ("easy", "medium", "hard")
IOU_MODES = ("official", "float")
GT_FACE_FILE = "wider_face_val.mat"
GT_SETTING_FILE = "wider_{}_val.mat"

_I32_MIN = float(np.iinfo(np.int32).min)
_I32_MAX = float(np.iinfo(np.int32).max)


# --------------------------------------------------------------------------- numerics
def round_half_away(x):
    """Round half away from zero (Matlab ``round`` and its double -> integer conversion).

    ``np.round`` rounds half to even, and ``floor(x + 0.5)`` is wrong for 0.49999999999999994.
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.trunc(x)
    return t + np.where(np.abs(x - t) >= 0.5, np.sign(x), 0.0)


def _to_int32(x):
    """Matlab's double -> int32 conversion: round half away from zero, saturate, NaN -> 0.
    Returned as float64 holding integer values (exact for the int32 range)."""
    r = round_half_away(x)
    r = np.clip(r, _I32_MIN, _I32_MAX)
    return np.where(np.isnan(r), 0.0, r)


def _sat(x):
    """Saturate an exact integer-valued result to the int32 range (Matlab integer arithmetic)."""
    return np.clip(x, _I32_MIN, _I32_MAX, out=x if isinstance(x, np.ndarray) else None)


# --------------------------------------------------------------------------- ground truth
@dataclass
class WiderFaceGT:
    """Ground truth of one evaluation, in the official image order.

    Attributes:
        image_ids: ``"<event>/<name>"`` (``name`` without ``.jpg``), one per image.
        boxes: per image an ``(N, 4)`` array ``[x, y, w, h]`` of *all* its faces (int32 when read from the
            official ``.mat``; float otherwise; the ``"official"`` IoU rounds them to int32 like the
            ``.mat`` storage).
        keep: per setting, per image the 0-based indices of the faces that count in that setting
            (the official ``gt_list``, which is 1-based). The other faces are "ignore" faces: a
            prediction matched to them is neither a true nor a false positive.
    """

    image_ids: List[str]
    boxes: List[np.ndarray]
    keep: Dict[str, List[np.ndarray]]

    def __post_init__(self):
        n = len(self.image_ids)
        if len(self.boxes) != n:
            raise ValueError(f"{n} image ids but {len(self.boxes)} box arrays")
        if len(set(self.image_ids)) != n:
            raise ValueError("duplicate image ids in the ground truth")
        for s, k in self.keep.items():
            if len(k) != n:
                raise ValueError(f"setting {s!r}: {len(k)} keep lists for {n} images")
        self.boxes = [np.asarray(b).reshape(-1, 4) for b in self.boxes]
        self.keep = {
            s: [np.asarray(k, dtype=np.int64).reshape(-1) for k in ks] for s, ks in self.keep.items()
        }
        for s, ks in self.keep.items():
            for img, b, k in zip(self.image_ids, self.boxes, ks):
                if k.size and (k.min() < 0 or k.max() >= len(b)):
                    raise ValueError(f"setting {s!r}, image {img}: face index out of range")

    @property
    def settings(self) -> Tuple[str, ...]:
        return tuple(self.keep)

    def num_faces(self, setting: str) -> int:
        """``count_face`` of the official code: kept faces over all images."""
        return int(sum(k.size for k in self.keep[setting]))

    def subset(self, image_ids: Iterable[str]) -> "WiderFaceGT":
        """The images among ``image_ids`` (official order kept). Unknown ids are ignored; see
        :meth:`missing`."""
        wanted = set(image_ids)
        idx = [i for i, img in enumerate(self.image_ids) if img in wanted]
        return WiderFaceGT(
            image_ids=[self.image_ids[i] for i in idx],
            boxes=[self.boxes[i] for i in idx],
            keep={s: [ks[i] for i in idx] for s, ks in self.keep.items()},
        )

    def missing(self, image_ids: Iterable[str]) -> List[str]:
        known = set(self.image_ids)
        return [i for i in image_ids if i not in known]


def _mat_str(x) -> str:
    """A Matlab char array as loaded by scipy (nested object / unicode arrays) -> str."""
    while isinstance(x, np.ndarray):
        if x.dtype.kind in "US":
            return str(x.ravel()[0]) if x.size else ""
        x = x.ravel()[0]
    return str(x)


def _mat_cells(x) -> list:
    """A Matlab cell column as loaded by scipy -> list of its elements."""
    return list(np.asarray(x, dtype=object).ravel())


def load_wider_gt(gt_dir: str, settings: Sequence[str] = SETTINGS) -> WiderFaceGT:
    """Load ``wider_face_val.mat`` (``event_list``, ``file_list``, ``face_bbx_list``) and
    ``wider_{easy,medium,hard}_val.mat`` (``gt_list``) from ``gt_dir``."""
    from scipy.io import loadmat

    face_path = os.path.join(gt_dir, GT_FACE_FILE)
    if not os.path.isfile(face_path):
        raise FileNotFoundError(f"WIDER FACE ground truth {face_path} not found")
    wanted = ["event_list", "file_list", "face_bbx_list"]
    mat = loadmat(face_path, variable_names=wanted)
    for k in wanted:
        if k not in mat:
            raise KeyError(f"{face_path} has no variable {k!r}")
    events = [_mat_str(e) for e in _mat_cells(mat["event_list"])]
    files = [[_mat_str(f) for f in _mat_cells(fl)] for fl in _mat_cells(mat["file_list"])]
    bbxs = [[np.asarray(b).reshape(-1, 4) for b in _mat_cells(bl)] for bl in _mat_cells(mat["face_bbx_list"])]
    if not (len(events) == len(files) == len(bbxs)):
        raise ValueError(f"{face_path}: event_list, file_list and face_bbx_list differ in length")
    image_ids, boxes = [], []
    for ev, fl, bl in zip(events, files, bbxs):
        if len(fl) != len(bl):
            raise ValueError(f"{face_path}: event {ev}: {len(fl)} files but {len(bl)} box lists")
        image_ids += [f"{ev}/{name}" for name in fl]
        boxes += bl

    keep = {}
    for s in settings:
        path = os.path.join(gt_dir, GT_SETTING_FILE.format(s))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"WIDER FACE ground truth {path} not found")
        gl = loadmat(path, variable_names=["gt_list"])
        if "gt_list" not in gl:
            raise KeyError(f"{path} has no variable 'gt_list'")
        per_event = [[np.asarray(k).astype(np.int64).ravel() - 1 for k in _mat_cells(el)]
                     for el in _mat_cells(gl["gt_list"])]
        flat = [k for ev in per_event for k in ev]
        if [len(e) for e in per_event] != [len(f) for f in files]:
            raise ValueError(f"{path}: gt_list does not have the layout of {face_path}'s file_list")
        keep[s] = flat
    return WiderFaceGT(image_ids=image_ids, boxes=boxes, keep=keep)


# --------------------------------------------------------------------------- submission I/O
class WiderFormatError(ValueError):
    """A prediction file the official ``read_pred.m`` would reject ("Invalid format")."""


def _parse_numbers(line: str) -> List[float]:
    return [float(v) for v in line.replace(",", " ").split()]


def read_prediction_file(path: str) -> np.ndarray:
    """One official prediction file -> ``(N, 5)`` float64 ``[x, y, w, h, score]`` in file order.

    Line 1 is the image name (ignored), line 2 the count ``N``, then ``N`` box lines (more lines are
    ignored, as ``read_pred.m`` does; blank lines are skipped). Raises :class:`WiderFormatError` when
    the count or a box line is missing, has fewer than 5 values, or a value that is not finite
    (``nan`` / ``inf``: the file is invalid, like a non-numeric line).
    """
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        lines = [ln.strip() for ln in f.read().splitlines()]
    lines = [ln for ln in lines if ln]
    if len(lines) < 2:
        raise WiderFormatError(f"{path}: no box count line")
    try:
        n = int(float(lines[1].split()[0]))
    except (ValueError, IndexError) as e:
        raise WiderFormatError(f"{path}: bad box count line {lines[1]!r}") from e
    if n <= 0:
        return np.zeros((0, 5), dtype=np.float64)
    rows = lines[2 : 2 + n]
    if len(rows) < n:
        raise WiderFormatError(f"{path}: {n} boxes announced, {len(rows)} lines found")
    try:
        # fast path: exactly 5 whitespace-separated numbers per line
        flat = np.array(" ".join(rows).split(), dtype=np.float64)
        if flat.size == 5 * n:
            out = flat.reshape(n, 5)
        else:
            out = np.empty((n, 5), dtype=np.float64)
            for i, r in enumerate(rows):
                vals = _parse_numbers(r)
                if len(vals) < 5:
                    raise WiderFormatError(f"{path}: line {i + 3} has {len(vals)} values, need 5")
                out[i] = vals[:5]
    except ValueError as e:
        if isinstance(e, WiderFormatError):
            raise
        raise WiderFormatError(f"{path}: {e}") from e
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        i = int(np.nonzero(bad)[0][0])
        raise WiderFormatError(f"{path}: line {i + 3} has a non-finite value ({rows[i]!r}); "
                               f"{int(bad.sum())} such line(s)")
    return out


@dataclass
class SubmissionReadResult:
    predictions: Dict[str, np.ndarray]  # image_id -> (N, 5) in file order (missing/invalid: absent)
    missing: List[str] = field(default_factory=list)  # image ids without a file
    invalid: List[str] = field(default_factory=list)  # image ids whose file read_pred.m rejects


def prediction_path(pred_dir: str, image_id: str) -> str:
    """``<pred_dir>/<event>/<name>.txt`` for ``image_id = "<event>/<name>"``."""
    return os.path.join(pred_dir, *image_id.split("/")) + ".txt"


def read_submission(pred_dir: str, image_ids: Iterable[str]) -> SubmissionReadResult:
    """Read the prediction file of every image in ``image_ids`` (those of the ground truth, as
    ``read_pred.m`` does: other files are never read)."""
    res = SubmissionReadResult(predictions={})
    for img in image_ids:
        path = prediction_path(pred_dir, img)
        if not os.path.isfile(path):
            res.missing.append(img)
            continue
        try:
            res.predictions[img] = read_prediction_file(path)
        except WiderFormatError as e:
            logger.debug("invalid prediction file: %s", e)
            res.invalid.append(img)
    return res


def _as_pred_array(pred) -> np.ndarray:
    """``(N, 5)`` array or ``(boxes_xywh (N, 4), scores (N,))`` -> float64 ``(N, 5)``."""
    if isinstance(pred, tuple) and len(pred) == 2:
        boxes = np.asarray(pred[0], dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(pred[1], dtype=np.float64).reshape(-1, 1)
        if len(boxes) != len(scores):
            raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores")
        return np.concatenate([boxes, scores], axis=1)
    arr = np.asarray(pred, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 5), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 5:
        raise ValueError(f"predictions must be (N, 5) [x, y, w, h, score], got shape {arr.shape}")
    return arr[:, :5]


def write_submission(pred_dir: str, predictions: Mapping[str, object]) -> int:
    """Write ``<pred_dir>/<event>/<name>.txt`` per ``image_id = "<event>/<name>"`` (an id without
    ``/`` is written at the top level). Values are written with Python's shortest round-trip
    representation, so reading the files back gives exactly the same numbers. Returns the number
    of files written."""
    n = 0
    for img, pred in predictions.items():
        arr = _as_pred_array(pred)
        path = prediction_path(pred_dir, img)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        name = img.split("/")[-1]
        body = "\n".join(" ".join(map(repr, row)) for row in arr.tolist())
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"{name}.jpg\n{len(arr)}\n")
            if body:
                f.write(body + "\n")
        n += 1
    return n


# --------------------------------------------------------------------------- protocol steps
def sort_predictions(pred: np.ndarray) -> np.ndarray:
    """Sort by score, descending, stable (Matlab ``sort(..., 'descend')``: ties keep their order)."""
    order = np.argsort(-pred[:, 4], kind="stable")
    return pred[order]


def normalize_scores(score_lists: Sequence[np.ndarray]) -> List[np.ndarray]:
    """``norm_score.m`` over all images: returns the normalised scores (float64 holding the
    single-precision values Matlab computes). See the module docstring."""
    mx = np.float32(np.finfo(np.float32).tiny)  # realmin('single')
    mn = np.float32(np.finfo(np.float32).max)  # realmax('single')
    with np.errstate(over="ignore"):
        for s in score_lists:
            if s.size:
                mx = max(mx, np.float32(s.max()))
                mn = min(mn, np.float32(s.min()))
    out = []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        den = np.float32(mx - mn)
        for s in score_lists:
            out.append(((s.astype(np.float32) - mn) / den).astype(np.float64))
    return out


def _overlap_official(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``boxoverlap(gt, pred)`` with int32 ground truth: ``(N_pred, N_gt)`` integer overlaps."""
    g = _to_int32(gt)
    gx1, gy1 = g[:, 0], g[:, 1]
    gx2 = _sat(gx1 + g[:, 2])
    gy2 = _sat(gy1 + g[:, 3])
    px1, py1 = pred[:, 0], pred[:, 1]
    px2 = px1 + pred[:, 2]
    py2 = py1 + pred[:, 3]
    # max/min of int32 and double -> int32 (rounding is monotone, so round-then-compare is exact)
    x1 = np.maximum(gx1[None, :], _to_int32(px1)[:, None])
    y1 = np.maximum(gy1[None, :], _to_int32(py1)[:, None])
    x2 = np.minimum(gx2[None, :], _to_int32(px2)[:, None])
    y2 = np.minimum(gy2[None, :], _to_int32(py2)[:, None])
    w = _sat(_sat(x2 - x1) + 1.0)
    h = _sat(_sat(y2 - y1) + 1.0)
    inter = _sat(w * h)
    aarea = _sat(_sat(_sat(gx2 - gx1) + 1.0) * _sat(_sat(gy2 - gy1) + 1.0))  # int32
    barea = ((px2 - px1) + 1.0) * ((py2 - py1) + 1.0)  # double
    union = _sat(_to_int32(aarea[None, :] + barea[:, None]) - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        o = _to_int32(inter / union)  # int32 ./ int32: rounded, x/0 saturates, 0/0 -> 0
    o[(w <= 0) | (h <= 0)] = 0.0
    return o


def _overlap_float(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Double-precision ``boxoverlap`` (``+1`` convention): ``(N_pred, N_gt)``."""
    g = np.asarray(gt, dtype=np.float64)
    gx1, gy1 = g[:, 0], g[:, 1]
    gx2, gy2 = gx1 + g[:, 2], gy1 + g[:, 3]
    px1, py1 = pred[:, 0], pred[:, 1]
    px2, py2 = px1 + pred[:, 2], py1 + pred[:, 3]
    w = np.minimum(gx2[None, :], px2[:, None]) - np.maximum(gx1[None, :], px1[:, None]) + 1.0
    h = np.minimum(gy2[None, :], py2[:, None]) - np.maximum(gy1[None, :], py1[:, None]) + 1.0
    inter = w * h
    aarea = ((gx2 - gx1) + 1.0) * ((gy2 - gy1) + 1.0)
    barea = ((px2 - px1) + 1.0) * ((py2 - py1) + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        o = inter / ((aarea[None, :] + barea[:, None]) - inter)
    o[(w <= 0) | (h <= 0)] = 0.0
    return o


# Coordinates up to this magnitude keep every int32 intermediate of boxoverlap.m below 2^31
# (areas <= 32001^2, their sum < 2^31 - 1), so the fast path needs no saturation.
_FAST_LIMIT = 16000.0


def _match_from_sparse(n, f, rows, cols, vals, iou_threshold):
    o = np.zeros((n, f), dtype=np.float64)
    o[rows, cols] = vals
    idx = np.argmax(o, axis=1)  # first index among equal maxima, like Matlab's max
    best = o[np.arange(n), idx]
    return np.where(best >= iou_threshold, idx, -1).astype(np.int64)


def match_image(gt_boxes: np.ndarray, pred: np.ndarray, iou_mode: str = "official",
                iou_threshold: float = 0.5) -> np.ndarray:
    """The face each prediction matches (``[m, idx] = max(boxoverlap(gt, pred)); m >= thresh``),
    as a 0-based index, or -1. ``pred``: ``(N, >=4)`` ``[x, y, w, h, ...]``. Independent of the score
    order and of the setting.

    Only the (prediction, face) pairs with positive intersection sides get an overlap computed (the
    others are 0 in ``boxoverlap.m``); the official mode falls back to the fully saturating int32
    emulation (:func:`_overlap_official`) when coordinates exceed ``_FAST_LIMIT``.
    """
    if iou_mode not in IOU_MODES:
        raise ValueError(f"iou_mode must be one of {IOU_MODES}, got {iou_mode!r}")
    n, f = len(pred), len(gt_boxes)
    if n == 0 or f == 0:
        return np.full(n, -1, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.float64)
    px1, py1 = pred[:, 0], pred[:, 1]
    px2, py2 = px1 + pred[:, 2], py1 + pred[:, 3]
    barea = ((px2 - px1) + 1.0) * ((py2 - py1) + 1.0)
    if iou_mode == "official":
        g = _to_int32(gt_boxes)
        gx1, gy1 = g[:, 0], g[:, 1]
        gx2, gy2 = gx1 + g[:, 2], gy1 + g[:, 3]
        pc = np.stack([px1, py1, px2, py2])
        if not (np.all(np.isfinite(pc)) and np.abs(pc).max() <= _FAST_LIMIT
                and max(np.abs(g[:, :2]).max(), np.abs(gx2).max(), np.abs(gy2).max()) <= _FAST_LIMIT):
            o = _overlap_official(gt_boxes, pred[:, :4])
            rows, cols = np.nonzero(o)
            return _match_from_sparse(n, f, rows, cols, o[rows, cols], iou_threshold)
        r1, r2 = _to_int32(pc[0]), _to_int32(pc[1])
        r3, r4 = _to_int32(pc[2]), _to_int32(pc[3])
        w = np.minimum(gx2[None, :], r3[:, None]) - np.maximum(gx1[None, :], r1[:, None]) + 1.0
        h = np.minimum(gy2[None, :], r4[:, None]) - np.maximum(gy1[None, :], r2[:, None]) + 1.0
        rows, cols = np.nonzero((w > 0) & (h > 0))
        inter = w[rows, cols] * h[rows, cols]
        aarea = ((gx2 - gx1) + 1.0) * ((gy2 - gy1) + 1.0)
        union = _to_int32(aarea[cols] + barea[rows]) - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = _to_int32(inter / union)
    else:
        g = np.asarray(gt_boxes, dtype=np.float64)
        gx1, gy1 = g[:, 0], g[:, 1]
        gx2, gy2 = gx1 + g[:, 2], gy1 + g[:, 3]
        w = np.minimum(gx2[None, :], px2[:, None]) - np.maximum(gx1[None, :], px1[:, None]) + 1.0
        h = np.minimum(gy2[None, :], py2[:, None]) - np.maximum(gy1[None, :], py1[:, None]) + 1.0
        rows, cols = np.nonzero((w > 0) & (h > 0))
        inter = w[rows, cols] * h[rows, cols]
        aarea = ((gx2 - gx1) + 1.0) * ((gy2 - gy1) + 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = inter / ((aarea[cols] + barea[rows]) - inter)
        vals[np.isnan(vals)] = -np.inf  # Matlab's max ignores NaN
    return _match_from_sparse(n, f, rows, cols, vals, iou_threshold)


@dataclass
class WiderSettingResult:
    """One setting's curve. ``precision``/``recall`` are ``pr_cruve(:,1)``/``pr_cruve(:,2)`` of the
    official code, at ``thresholds[t] = 1 - (t+1)/num_thresholds``; ``proposals``/``recalled`` are the
    summed ``img_pr_info`` columns."""

    setting: str
    ap: float
    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    num_faces: int
    proposals: np.ndarray
    recalled: np.ndarray


def _thresholds(num_thresholds: int) -> np.ndarray:
    t = np.arange(1, num_thresholds + 1, dtype=np.float64)
    return 1.0 - t / float(num_thresholds)


def evaluate_wider(
    gt: WiderFaceGT,
    predictions: Mapping[str, object],
    iou_mode: str = "official",
    iou_threshold: float = 0.5,
    num_thresholds: int = 1000,
    settings: Optional[Sequence[str]] = None,
) -> Dict[str, WiderSettingResult]:
    """Evaluate ``predictions`` (``image_id -> (N, 5) [x, y, w, h, score]`` or ``(boxes_xywh, scores)``,
    any order) against ``gt`` for each setting. Images of ``gt`` without predictions have no detections;
    predictions for images outside ``gt`` are not read. Returns ``{setting: WiderSettingResult}``."""
    if iou_mode not in IOU_MODES:
        raise ValueError(f"iou_mode must be one of {IOU_MODES}, got {iou_mode!r}")
    if num_thresholds < 1:
        raise ValueError("num_thresholds must be >= 1")
    settings = tuple(settings) if settings is not None else gt.settings
    for s in settings:
        if s not in gt.keep:
            raise KeyError(f"setting {s!r} not in the ground truth ({gt.settings})")

    # read_pred.m: sort each image's predictions; norm_score.m: global normalisation
    preds = []
    for img in gt.image_ids:
        p = predictions.get(img)
        p = np.zeros((0, 5)) if p is None else _as_pred_array(p)
        if p.size and not np.all(np.isfinite(p[:, 4])):
            raise ValueError(f"image {img}: non-finite scores")
        preds.append(sort_predictions(p) if len(p) else p)
    norm = normalize_scores([p[:, 4] for p in preds])

    # match once per image (all faces; settings only decide which faces are kept)
    thr = _thresholds(num_thresholds)
    asc = thr[::-1]
    face_offsets = np.zeros(len(gt.image_ids) + 1, dtype=np.int64)
    face_offsets[1:] = np.cumsum([len(b) for b in gt.boxes])
    matches, tidx = [], []
    for i, (b, p, s) in enumerate(logged_progress(zip(gt.boxes, preds, norm), total=len(gt.boxes),
                                                  desc="WIDER FACE evaluation", logger=logger, unit="images")):
        if len(b) == 0 or len(p) == 0:  # evaluation.m skips the image (faces still counted)
            continue
        m = match_image(b, p, iou_mode, iou_threshold)
        matches.append(np.where(m >= 0, m + face_offsets[i], -1))
        # first threshold t (1-based) with thresh_t <= score; num_thresholds + 1 = never
        k = np.searchsorted(asc, s, side="right")
        k[np.isnan(s)] = 0
        tidx.append(num_thresholds + 1 - k)
    match = np.concatenate(matches) if matches else np.zeros(0, dtype=np.int64)
    first_t = np.concatenate(tidx) if tidx else np.zeros(0, dtype=np.int64)

    results = {}
    total_faces = int(face_offsets[-1])
    for setting in settings:
        kept = np.zeros(total_faces, dtype=bool)
        for i, k in enumerate(gt.keep[setting]):
            kept[face_offsets[i] + k] = True
        matched = match >= 0
        kept_match = np.zeros(len(match), dtype=bool)
        kept_match[matched] = kept[match[matched]]
        ignored = matched & ~kept_match  # proposal_list = -1
        tp = np.zeros(len(match), dtype=bool)
        cand = np.nonzero(kept_match)[0]
        if cand.size:
            _, first = np.unique(match[cand], return_index=True)  # first prediction per face
            tp[cand[first]] = True
        nb = num_thresholds + 2
        proposals = np.cumsum(np.bincount(first_t[~ignored], minlength=nb))[1 : num_thresholds + 1]
        recalled = np.cumsum(np.bincount(first_t[tp], minlength=nb))[1 : num_thresholds + 1]
        proposals = proposals.astype(np.float64)
        recalled = recalled.astype(np.float64)
        count_face = gt.num_faces(setting)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = recalled / proposals
            recall = recalled / count_face if count_face else np.full(num_thresholds, np.nan)
        if count_face == 0:
            ap = float("nan")
        else:
            ap = voc_ap(recall, np.nan_to_num(precision, nan=0.0))
        results[setting] = WiderSettingResult(
            setting=setting, ap=ap, precision=precision, recall=recall, thresholds=thr.copy(),
            num_faces=count_face, proposals=proposals, recalled=recalled,
        )
    return results


def format_results_line(aps: Mapping[str, float], settings: Sequence[str] = SETTINGS) -> str:
    """``easy: 0.xxxx medium: 0.xxxx hard: 0.xxxx``."""
    return " ".join(f"{s}: {aps[s]:.4f}" for s in settings)

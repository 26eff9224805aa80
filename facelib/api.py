"""A small inference API: :class:`FaceDetector` (config + weights -> batched face detection).

Example::

    import facelib
    from facelib.api import FaceDetector

    detector = FaceDetector("configs/Base-FaceRetinaNet.yaml", weights="model_final.pth",
                            device="cuda", confidence_threshold=0.5)
    results = detector.detect(["a.jpg", "b.jpg"])          # or one image / a list of BGR arrays
    results[0].boxes   # (N, 4) float32 XYXY in the original image's pixels
    results[0].scores  # (N,) float32, sorted as the model returned them

Inputs are numpy ``H x W x 3`` ``uint8`` images in **BGR** order (OpenCV's ``imread``) or image
file paths; they are converted to ``cfg.INPUT.FORMAT`` (RGB for facelib's ImageNet-normalised
backbones), resized by the config's test resize (``INPUT.FACE_AUG.TEST``, through
:func:`facelib.data.transforms.build_face_augmentation`, like the evaluation loader) and run
through the model in batches of ``batch_size``. Boxes come back in the coordinates of the image
as given (the model rescales them, detectron2's ``detector_postprocess``).

Batching: only images whose *resized* size is the same share a batch (a batch is padded to its
largest image, and padding changes the border activations / GroupNorm statistics), so batched
results equal one-by-one results (up to float rounding). With ``resize_square`` or same-size
inputs every batch is full. Images are read and resized ``batch_size x 8`` at a time.

Occlusion outputs (AOFD-style models), returned when the model produces them:

* per image ``output["occlusion_mask"]`` (``H x W`` tensor, or ``1 x H x W``) ->
  :attr:`FaceDetections.occlusion_mask`, resized to the original image size when needed;
* per instance ``instances.pred_occlusion_masks``: ``(N, H, W)`` image-sized masks, or
  ``(N, 1, M, M)`` box-relative masks (detectron2's mask-head format, pasted into the image with
  ``paste_masks_in_image``) -> :attr:`FaceDetections.occlusion_masks` ``(N, H, W)``.

Values are kept as the model gives them (float probabilities or bool); :meth:`FaceDetections.
binary_occlusion_masks` thresholds float masks at 0.5.
"""
import dataclasses
import logging
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
import torch

import facelib  # noqa: F401  (detectron2._C stand-in, before any detectron2 import)
from detectron2.data import transforms as T

__all__ = ["FaceDetector", "FaceDetections", "load_image", "check_image"]

logger = logging.getLogger(__name__)

ImageLike = Union[np.ndarray, str, os.PathLike]


@dataclasses.dataclass
class FaceDetections:
    """Detections of one image (numpy arrays, original-image pixels)."""

    boxes: np.ndarray  # (N, 4) float32 XYXY
    scores: np.ndarray  # (N,) float32
    image_size: tuple  # (height, width) of the input image
    occlusion_masks: Optional[np.ndarray] = None  # (N, H, W) per face, when the model makes them
    occlusion_mask: Optional[np.ndarray] = None  # (H, W) per image, when the model makes it
    file_name: Optional[str] = None  # the path, when the input was a path

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def __getitem__(self, key: str):  # dict-style access: det["boxes"]
        return getattr(self, key)

    def keys(self) -> List[str]:
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None]

    def to_dict(self) -> Dict[str, Any]:
        """The non-None fields (arrays stay numpy)."""
        return {k: getattr(self, k) for k in self.keys()}

    def binary_occlusion_masks(self, threshold: float = 0.5) -> Optional[np.ndarray]:
        return _binarize(self.occlusion_masks, threshold)

    def binary_occlusion_mask(self, threshold: float = 0.5) -> Optional[np.ndarray]:
        return _binarize(self.occlusion_mask, threshold)


def _binarize(mask, threshold):
    if mask is None:
        return None
    if mask.dtype == bool:
        return mask
    return mask > threshold


# ---------------------------------------------------------------------------------------- inputs
def check_image(image: Any, name: str = "image") -> np.ndarray:
    """Validate a numpy BGR ``H x W x 3`` uint8 image; raise ``TypeError`` / ``ValueError`` otherwise."""
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"{name}: expected a numpy uint8 array (H x W x 3, BGR) or an image path, "
            f"got {type(image).__name__}"
        )
    if image.dtype != np.uint8:
        raise TypeError(f"{name}: expected dtype uint8, got {image.dtype} (convert e.g. with .astype(np.uint8))")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name}: expected shape (H, W, 3) (BGR), got {tuple(image.shape)}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name}: empty image of shape {tuple(image.shape)}")
    return image


def load_image(path: Union[str, os.PathLike]) -> np.ndarray:
    """Read an image file as BGR uint8 ``H x W x 3`` (EXIF orientation applied, like detectron2's
    ``read_image``); ``FileNotFoundError`` / ``ValueError`` name the path."""
    from detectron2.data.detection_utils import read_image

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Image file not found: {path}")
    try:
        img = read_image(path, format="BGR")
    except Exception as e:  # PIL.UnidentifiedImageError, truncated files, ...
        raise ValueError(f"Cannot read image {path}: {e}") from e
    return np.ascontiguousarray(img)


def _to_model_format(bgr: np.ndarray, fmt: str) -> np.ndarray:
    """BGR uint8 -> the array layout ``cfg.INPUT.FORMAT`` asks for."""
    if fmt == "BGR":
        return bgr
    if fmt == "RGB":
        return np.ascontiguousarray(bgr[:, :, ::-1])
    from PIL import Image

    from detectron2.data.detection_utils import convert_PIL_to_numpy

    return convert_PIL_to_numpy(Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])), fmt)


# ---------------------------------------------------------------------------------------- config
def _load_cfg(config, opts: Optional[Sequence[str]] = None):
    from detectron2.config import CfgNode

    from facelib.config import finalize_face_cfg, load_face_cfg
    from facelib.plugins import load_plugins

    load_plugins()  # a CfgNode built elsewhere may name a plugin's meta-architecture
    if isinstance(config, (str, os.PathLike)):
        return load_face_cfg(config, opts or ())
    if isinstance(config, CfgNode):
        cfg = config.clone()
    else:
        raise TypeError(f"config must be a YAML path or a detectron2 CfgNode, got {type(config).__name__}")
    cfg.defrost()
    if opts:
        cfg.merge_from_list(list(opts))
    return finalize_face_cfg(cfg)


def build_test_resize(cfg) -> List:
    """The test-time resize augmentations of ``cfg`` (``INPUT.FACE_AUG.TEST``); detectron2's
    ``ResizeShortestEdge`` on configs without facelib's keys."""
    if "FACE_AUG" in cfg.INPUT:
        from facelib.data.transforms.build import build_face_augmentation

        return build_face_augmentation(cfg, is_train=False)
    return [T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST, "choice")]


def _is_local_path(path: str) -> bool:
    return "://" not in path


# ---------------------------------------------------------------------------------------- detector
class FaceDetector:
    """Build a facelib (detectron2) detector in eval mode and detect faces in images.

    Args:
        config: a YAML path (merged into :func:`facelib.config.get_face_cfg`) or a ``CfgNode``
            (cloned, used as is).
        weights: checkpoint path / URL loaded with ``DetectionCheckpointer``; ``None`` uses
            ``cfg.MODEL.WEIGHTS``; when that is empty too the model keeps its random
            initialisation (a warning is logged). A local path that does not exist raises
            ``FileNotFoundError``.
        device: "cpu", "cuda", "cuda:1", ... (default ``cfg.MODEL.DEVICE``).
        confidence_threshold: detections with a lower score are dropped. Also written to
            ``MODEL.RETINANET.SCORE_THRESH_TEST`` / ``MODEL.ROI_HEADS.SCORE_THRESH_TEST`` (as
            detectron2's demo does); filtered again after the model for other heads. ``None``
            keeps the config's thresholds and filters nothing.
        batch_size: images per forward pass (default 8).
        opts: extra ``KEY VALUE`` config overrides.
        backend: ``"pytorch"`` (default) or ``"onnxruntime"``: the network of ``onnx_path`` (written by
            ``tools/export_onnx.py`` from the same config) on onnxruntime's CPU provider, numpy
            post-processing; same inputs and outputs (dense models; no occlusion masks).
        onnx_path: the exported model, for ``backend="onnxruntime"``.
        num_threads: onnxruntime's intra-op threads (default: its own choice).
    """

    CHUNK_BATCHES = 8  # images read and resized ahead: batch_size x CHUNK_BATCHES

    def __init__(
        self,
        config,
        weights: Optional[str] = None,
        device: Optional[str] = None,
        confidence_threshold: Optional[float] = 0.5,
        batch_size: int = 8,
        opts: Optional[Sequence[str]] = None,
        backend: str = "pytorch",
        onnx_path: Optional[str] = None,
        num_threads: Optional[int] = None,
    ):
        from facelib.engine.checkpoint import FaceCheckpointer
        from detectron2.modeling import build_model

        if confidence_threshold is not None and not 0.0 <= float(confidence_threshold) <= 1.0:
            raise ValueError(f"confidence_threshold must be in [0, 1] or None, got {confidence_threshold}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if backend not in ("pytorch", "onnxruntime"):
            raise ValueError(f"backend must be 'pytorch' or 'onnxruntime', got {backend!r}")
        if backend == "onnxruntime" and not onnx_path:
            raise ValueError("backend='onnxruntime' needs onnx_path (export one with tools/export_onnx.py)")
        self.backend = backend
        cfg = _load_cfg(config, opts)
        if device is not None:
            cfg.MODEL.DEVICE = str(device)
        if weights is not None:
            cfg.MODEL.WEIGHTS = os.fspath(weights)
        self.confidence_threshold = None if confidence_threshold is None else float(confidence_threshold)
        if self.confidence_threshold is not None:
            cfg.MODEL.RETINANET.SCORE_THRESH_TEST = self.confidence_threshold
            cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = self.confidence_threshold
        cfg.freeze()
        self.cfg = cfg
        self.batch_size = int(batch_size)
        self.last_skipped: List[dict] = []  # inputs the last detect(on_error="skip") skipped
        self.input_format = cfg.INPUT.FORMAT

        dev = torch.device(cfg.MODEL.DEVICE)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"MODEL.DEVICE is {cfg.MODEL.DEVICE!r} but CUDA is not available: pass device='cpu' "
                "(or MODEL.DEVICE cpu)"
            )
        self.augmentations = build_test_resize(cfg)
        self._aug_list = T.AugmentationList(self.augmentations)
        self.device = torch.device(cfg.MODEL.DEVICE)
        self._runner = None
        if backend == "onnxruntime":
            from facelib.export.onnx_backend import OnnxDenseRunner

            self.model = None
            self.weights = os.fspath(onnx_path)
            # the score threshold of this config (where confidence_threshold was written), as
            # the PyTorch backend builds its model with; the rest as exported
            self._runner = OnnxDenseRunner(self.weights, num_threads=num_threads,
                                           score_thresh=cfg.MODEL.RETINANET.SCORE_THRESH_TEST)
            return
        weights_path = cfg.MODEL.WEIGHTS
        if weights_path and _is_local_path(weights_path) and not os.path.isfile(weights_path):
            raise FileNotFoundError(f"Weights file not found: {weights_path}")

        self.model = build_model(cfg)
        self.model.eval()
        if weights_path:
            FaceCheckpointer(self.model).load(weights_path)
        else:
            logger.warning("FaceDetector: no weights given (MODEL.WEIGHTS is empty): the model has random weights.")
        self.weights = weights_path or None

    # ------------------------------------------------------------------ preprocessing
    def _decode_max_side(self) -> Optional[int]:
        """Longest side the test resize can produce (``resize_shortest_edge``: MAX_SIZE_TEST,
        ``resize_square``: its SIZE); None when it keeps the original size or is unknown."""
        kind = self.cfg.INPUT.FACE_AUG.TEST if "FACE_AUG" in self.cfg.INPUT else "resize_shortest_edge"
        if kind == "resize_shortest_edge" and self.cfg.INPUT.MAX_SIZE_TEST > 0:
            return int(self.cfg.INPUT.MAX_SIZE_TEST)
        if kind == "resize_square":
            return int(self.cfg.INPUT.FACE_AUG.RESIZE_SQUARE.SIZE)
        return None

    def _read(self, image: ImageLike, index: int):
        """``(bgr, file name, original (height, width))``. Paths to images larger than the test
        resize's output are decoded at reduced size (:mod:`facelib.data.reduced_decode`: JPEGs
        never whole); boxes still come back in original pixels."""
        if isinstance(image, (str, os.PathLike)):
            from facelib.data.reduced_decode import load_image_at_most

            max_side = self._decode_max_side()
            if max_side is None:
                bgr = load_image(image)
                return bgr, os.fspath(image), bgr.shape[:2]
            bgr, orig = load_image_at_most(os.fspath(image), max_side)  # names a missing file
            return bgr, os.fspath(image), orig
        bgr = check_image(image, name=f"image {index}")
        return bgr, None, bgr.shape[:2]

    def preprocess(self, bgr: np.ndarray, original_size=None) -> Dict[str, Any]:
        """One model input dict: ``{"image": C x H' x W' tensor (resized), "height", "width"}``;
        ``original_size``: the ``(height, width)`` the outputs are scaled to (default: ``bgr``'s)."""
        height, width = original_size if original_size is not None else bgr.shape[:2]
        image = _to_model_format(bgr, self.input_format)
        if self.augmentations:
            aug_input = T.AugInput(image)
            self._aug_list(aug_input)
            image = aug_input.image
        tensor = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        return {"image": tensor, "height": height, "width": width}

    # ------------------------------------------------------------------ inference
    def _batches(self, inputs: List[Dict[str, Any]], batch_size: int) -> Iterable[List[int]]:
        """Indices grouped by resized shape (first-seen order), chunked to ``batch_size``."""
        groups: Dict[tuple, List[int]] = {}
        for i, inp in enumerate(inputs):
            groups.setdefault(tuple(inp["image"].shape[-2:]), []).append(i)
        for idxs in groups.values():
            for s in range(0, len(idxs), batch_size):
                yield idxs[s:s + batch_size]

    def __call__(self, images, batch_size: Optional[int] = None, on_error: str = "raise"):
        return self.detect(images, batch_size=batch_size, on_error=on_error)

    @torch.no_grad()
    def detect(self, images, batch_size: Optional[int] = None, on_error: str = "raise"):
        """Detect faces.

        Args:
            images: one image (BGR ``H x W x 3`` uint8 array or path) or a list/tuple of them.
            batch_size: override of the constructor's ``batch_size``.
            on_error: what a bad input (missing or unreadable file, wrong array) does:
                ``"raise"`` (default): the error, naming the input, before any compute;
                ``"skip"``: its result is ``None``, one warning is logged, and
                ``self.last_skipped`` lists ``{"index", "input", "reason"}`` of every skipped input.

        Returns:
            a :class:`FaceDetections` for one image, a list of them (input order) for a list.
        """
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.last_skipped = []
        single = isinstance(images, (np.ndarray, str, os.PathLike))
        if single:
            images = [images]
        elif not isinstance(images, (list, tuple)):
            raise TypeError(
                f"images must be an image (numpy array or path) or a list of them, got {type(images).__name__}"
            )
        if len(images) == 0:
            return []
        bs = self.batch_size if batch_size is None else int(batch_size)
        if bs < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")

        # cheap checks of every input first (arrays, paths exist), so a bad one fails before compute
        bad = set()
        for i, img in enumerate(images):
            try:
                if isinstance(img, (str, os.PathLike)):
                    if not os.path.isfile(os.fspath(img)):
                        raise FileNotFoundError(f"Image file not found: {os.fspath(img)}")
                else:
                    check_image(img, name=f"image {i}")
            except (OSError, TypeError, ValueError) as e:
                if on_error == "raise":
                    raise
                self._skip(i, img, e)
                bad.add(i)
        results: List[Optional[FaceDetections]] = [None] * len(images)
        # read / resize a chunk at a time (bounded memory for long lists of paths); same-shape
        # images of a chunk share batches
        chunk = bs * self.CHUNK_BATCHES
        for start in range(0, len(images), chunk):
            ids = []
            loaded = []
            for i in range(start, min(start + chunk, len(images))):
                if i in bad:
                    continue
                try:
                    loaded.append(self._read(images[i], i))
                except (OSError, ValueError) as e:  # undecodable / truncated files
                    if on_error == "raise":
                        raise
                    self._skip(i, images[i], e)
                    continue
                ids.append(i)
            inputs = [self.preprocess(bgr, orig) for bgr, _, orig in loaded]
            if self._runner is not None:  # onnxruntime: one image per call of the exported graph
                for j, inp in enumerate(inputs):
                    results[ids[j]] = self._postprocess_onnx(inp, loaded[j][1])
                continue
            for idxs in self._batches(inputs, bs):
                outputs = self.model([inputs[j] for j in idxs])
                for j, out in zip(idxs, outputs):
                    results[ids[j]] = self._postprocess(
                        out, inputs[j]["height"], inputs[j]["width"], loaded[j][1]
                    )
        return results[0] if single else results

    def _skip(self, index, image, error):
        name = os.fspath(image) if isinstance(image, (str, os.PathLike)) else f"image {index} (array)"
        logger.warning("FaceDetector: skipped %s: %s", name, error)
        self.last_skipped.append({"index": index, "input": name, "reason": str(error)})

    def _postprocess_onnx(self, inp: Dict[str, Any], file_name) -> FaceDetections:
        height, width = inp["height"], inp["width"]
        boxes, scores, _ = self._runner.run(inp["image"].numpy(), (height, width))
        if self.confidence_threshold is not None:
            keep = scores >= self.confidence_threshold
            boxes, scores = boxes[keep], scores[keep]
        return _clipped_detections(boxes, scores, height, width, file_name)

    def _postprocess(self, output: Dict[str, Any], height: int, width: int, file_name) -> FaceDetections:
        inst = output["instances"].to("cpu")
        if self.confidence_threshold is not None:
            inst = inst[inst.scores.float() >= self.confidence_threshold]
        det = _clipped_detections(inst.pred_boxes.tensor.float().numpy(), inst.scores.float().numpy(),
                                  height, width, file_name)
        if inst.has("pred_occlusion_masks"):  # pasted into the clipped boxes
            det.occlusion_masks = _instance_masks(inst.pred_occlusion_masks, torch.from_numpy(det.boxes),
                                                  height, width)
        if output.get("occlusion_mask", None) is not None:
            det.occlusion_mask = _image_mask(output["occlusion_mask"], height, width)
        return det


def _clipped_detections(boxes, scores, height: int, width: int, file_name) -> FaceDetections:
    """:class:`FaceDetections` of (N, 4) XYXY ``boxes`` clipped to the image, float32."""
    boxes = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, width)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, height)
    return FaceDetections(boxes=boxes, scores=np.asarray(scores, dtype=np.float32).reshape(-1),
                          image_size=(height, width), file_name=file_name)


# ---------------------------------------------------------------------------------------- masks
def _resize_masks(m: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, h, w) -> (N, height, width): bilinear for float masks, nearest (dtype kept) otherwise."""
    import torch.nn.functional as F

    if tuple(m.shape[-2:]) == (height, width):
        return m
    if m.shape[0] == 0:
        return m.new_zeros((0, height, width))
    if m.is_floating_point():
        return F.interpolate(m[:, None].float(), size=(height, width), mode="bilinear", align_corners=False)[:, 0]
    return F.interpolate(m[:, None].float(), size=(height, width), mode="nearest")[:, 0].to(m.dtype)


def _to_numpy_mask(m: torch.Tensor) -> np.ndarray:
    return (m.float() if m.is_floating_point() else m).numpy()


def _image_mask(mask, height: int, width: int) -> np.ndarray:
    """Per-image occlusion mask (H x W or 1 x H x W) -> (height, width) numpy."""
    m = torch.as_tensor(mask).detach().cpu()
    while m.ndim > 2 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2:
        raise ValueError(f"occlusion_mask must be H x W (or 1 x H x W), got shape {tuple(m.shape)}")
    return _to_numpy_mask(_resize_masks(m[None], height, width)[0])


def _instance_masks(masks, boxes, height: int, width: int) -> np.ndarray:
    """Per-instance occlusion masks ((N, H, W) image-sized, or (N, 1, M, M) box-relative) ->
    (N, height, width) numpy."""
    from detectron2.layers.mask_ops import paste_masks_in_image

    m = torch.as_tensor(masks.tensor if hasattr(masks, "tensor") else masks).detach().cpu()
    n = len(boxes)
    if m.ndim == 4 and m.shape[1] == 1 and m.shape[0] == n:
        if n == 0:
            return np.zeros((0, height, width), np.float32)
        # box-relative M x M masks: paste into the image (soft, uint8 0..255 -> [0, 1])
        pasted = paste_masks_in_image(m[:, 0].float(), boxes, (height, width), threshold=-1)
        return pasted.float().div_(255.0).numpy()
    if m.ndim != 3 or m.shape[0] != n:
        raise ValueError(
            f"pred_occlusion_masks must be (N, H, W) or (N, 1, M, M) with N = {n}, got {tuple(m.shape)}"
        )
    return _to_numpy_mask(_resize_masks(m, height, width))

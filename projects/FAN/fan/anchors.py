"""The anchor settings of FAN's Table 1 (Sec. 4.1.1 "Anchor setting and assign"; FAN's own is
defined in Sec. 3.2.1 "Anchor Assign Strategy").

Each setting is a function returning ``{"sizes": [[...] per level], "aspect_ratios": [[...] per
level], "levels": [3, 4, 5, 6, 7]}`` for the pyramid levels P3..P7 (strides 8..128). Sizes are
anchor scales: with facelib's default ``RATIO_MODE "area"`` an anchor of size s and aspect ratio r
(= h / w) has area s^2, so "areas of a^2 to b^2" means sizes a..b.

* ``retinanet`` (RetinaNet, Lin et al. 2017 Sec. 4 "Anchors"): sizes 32, 64, 128, 256, 512 on P3..P7,
  each with scales {2^0, 2^(1/3), 2^(2/3)} and ratios {0.5, 1, 2}: A = 9 per location.
* ``fan`` (the paper's setting): "areas from 16^2 to 406^2 on P3..P7", scale step 2^(1/3), ratios
  {1, 1.5}. 15 sizes 16 * 2^(i/3), i = 0..14 (16 ... 406.4), 3 consecutive ones per level:
  P3 16, 20.2, 25.4; P4 32, 40.3, 50.8; ... P7 256, 322.5, 406.4. A = 3 x 2 = 6. The smallest size
  is half RetinaNet's, for WIDER's small faces; the largest 406 fits the 600-1400 px test images.
* ``dense``: "areas from 8^2 to 645^2", 4 scales per level x 2 ratios ({1, 1.5}), A = 8. With 4 scales
  on each of the 5 levels these are 20 sizes; 8 * 2^(19/3) = 645.1, so they are log-spaced with the
  same step 2^(1/3): 8 * 2^(i/3), i = 0..19, 4 consecutive ones per level (P3 8, 10.1, 12.7, 16;
  P4 20.2, 25.4, 32, 40.3; ... P7 322.5, 406.4, 512, 645.1). Per level the range grows by 2^(4/3), not the
  stride factor 2, which is what makes the setting denser on small faces.
"""
from typing import Dict, List, Sequence

__all__ = [
    "FAN_LEVELS",
    "ANCHOR_SETTINGS",
    "retinanet_anchor_setting",
    "fan_anchor_setting",
    "dense_anchor_setting",
    "anchor_setting",
    "apply_anchor_setting",
    "levels_of_features",
]

FAN_LEVELS = (3, 4, 5, 6, 7)


def _setting(sizes: List[List[float]], ratios: Sequence[float]) -> Dict:
    return {
        "sizes": sizes,
        "aspect_ratios": [list(map(float, ratios)) for _ in sizes],
        "levels": list(FAN_LEVELS),
    }


def retinanet_anchor_setting() -> Dict:
    """RetinaNet's anchors: 32 * 2^(l-3) * {1, 2^(1/3), 2^(2/3)}, ratios {0.5, 1, 2} (A = 9)."""
    sizes = [[32.0 * 2 ** (l - 3) * 2 ** (i / 3) for i in range(3)] for l in FAN_LEVELS]
    return _setting(sizes, (0.5, 1.0, 2.0))


def fan_anchor_setting() -> Dict:
    """FAN's anchors: 16 * 2^(i/3), i = 0..14, three per level, ratios {1, 1.5} (A = 6)."""
    sizes = [[16.0 * 2 ** ((3 * k + i) / 3) for i in range(3)] for k in range(len(FAN_LEVELS))]
    return _setting(sizes, (1.0, 1.5))


def dense_anchor_setting() -> Dict:
    """The dense setting: 8 * 2^(i/3), i = 0..19, four per level, ratios {1, 1.5} (A = 8)."""
    sizes = [[8.0 * 2 ** ((4 * k + i) / 3) for i in range(4)] for k in range(len(FAN_LEVELS))]
    return _setting(sizes, (1.0, 1.5))


ANCHOR_SETTINGS = {
    "retinanet": retinanet_anchor_setting,
    "fan": fan_anchor_setting,
    "dense": dense_anchor_setting,
}


def anchor_setting(name: str) -> Dict:
    """The setting called ``name`` (one of :data:`ANCHOR_SETTINGS`)."""
    if name not in ANCHOR_SETTINGS:
        raise ValueError(f"MODEL.FAN.ANCHOR_SETTING must be one of {sorted(ANCHOR_SETTINGS)} or '', got {name!r}")
    return ANCHOR_SETTINGS[name]()


def levels_of_features(feature_names: Sequence[str]) -> List[int]:
    """Pyramid level of each head input feature ("p3" -> 3, ...)."""
    levels = []
    for f in feature_names:
        if not (len(f) >= 2 and f[0] == "p" and f[1:].isdigit()):
            raise ValueError(f"FAN anchor settings need FPN features named p<level>, got {f!r}")
        levels.append(int(f[1:]))
    return levels


def apply_anchor_setting(cfg, name: str):
    """Write setting ``name`` into ``cfg.MODEL.ANCHOR_GENERATOR`` (in place; ``cfg`` must be
    mutable) for the levels of ``MODEL.RETINANET.IN_FEATURES`` (a subset of P3..P7, e.g. P3..P6
    takes the first four levels). ``OCTAVE_BASE`` is set to 0 so ``SIZES`` is used. Returns ``cfg``."""
    setting = anchor_setting(name)
    levels = levels_of_features(cfg.MODEL.RETINANET.IN_FEATURES)
    missing = [l for l in levels if l not in setting["levels"]]
    if missing:
        raise ValueError(f"anchor setting {name!r} defines levels P3..P7, the head uses {levels}")
    idx = [setting["levels"].index(l) for l in levels]
    ag = cfg.MODEL.ANCHOR_GENERATOR
    ag.SIZES = [list(setting["sizes"][i]) for i in idx]
    ag.ASPECT_RATIOS = [list(setting["aspect_ratios"][i]) for i in idx]
    if "OCTAVE_BASE" in ag:
        ag.OCTAVE_BASE = 0.0
    return cfg

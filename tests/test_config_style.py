"""One config style: every ``add_*_config`` is idempotent (re-applying keeps what is set), and a
method's derived values (FAN's ``ANCHOR_SETTING``) are in the run's dumped ``config.yaml``."""
import os

import pytest
import yaml

import facelib  # noqa: F401
from detectron2.engine import default_argument_parser

from facelib.config import _CONFIG_EXTENSIONS, add_facelib_config, get_face_cfg
from tiny_model import ROOT


def _leaves(node, prefix=""):
    for k, v in node.items():
        if hasattr(v, "items"):
            yield from _leaves(v, prefix + k + ".")
        else:
            yield prefix + k, v


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 3
    if isinstance(value, str):
        return value + "_x"
    return value


def test_every_add_config_is_idempotent():
    cfg = get_face_cfg()
    base = dict(_leaves(get_face_cfg()))
    # change every scalar leaf, then apply every extension again: nothing may be written back
    for key, value in base.items():
        node = cfg
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = _changed(value)
    want = dict(_leaves(cfg))
    add_facelib_config(cfg)
    for fn in _CONFIG_EXTENSIONS:
        fn(cfg)
    assert dict(_leaves(cfg)) == want


def test_fan_anchor_setting_visible_in_dumped_config(tmp_path):
    from facelib.engine import setup_face_cfg
    from facelib.projects.fan import anchor_setting

    args = default_argument_parser().parse_args(
        ["--config-file", os.path.join(ROOT, "configs", "fan_tiny_cpu.yaml"), "OUTPUT_DIR", str(tmp_path)]
    )
    cfg = setup_face_cfg(args)
    setting = anchor_setting("fan")
    with open(tmp_path / "config.yaml") as f:
        dumped = yaml.safe_load(f)
    sizes = dumped["MODEL"]["ANCHOR_GENERATOR"]["SIZES"]
    assert len(sizes) == 5 and all(a == pytest.approx(b) for a, b in zip(sizes, setting["sizes"]))
    assert [list(x) for x in cfg.MODEL.ANCHOR_GENERATOR.SIZES] == sizes
    # the fan_tiny YAML itself says nothing about the anchors: the base config's differ
    base = get_face_cfg()
    base.merge_from_file(os.path.join(ROOT, "configs", "Base-FaceRetinaNet.yaml"))
    assert [list(x) for x in base.MODEL.ANCHOR_GENERATOR.SIZES] != sizes

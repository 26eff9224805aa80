"""One command-line convention: config overrides KEY VALUE at the end of every tool."""
import argparse
import os

import pytest

from facelib.engine.cli import add_overrides_argument, is_config_key, parse_args_with_overrides, split_config_overrides

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_split_at_the_first_config_key_or_opts():
    assert split_config_overrides(["--input", "A.JPG", "b.png", "MODEL.WEIGHTS", "w.pth", "OUTPUT_DIR", "o"]) == \
        (["--input", "A.JPG", "b.png"], ["MODEL.WEIGHTS", "w.pth", "OUTPUT_DIR", "o"])
    assert split_config_overrides(["--x", "1", "--opts", "SEED", "3"]) == (["--x", "1"], ["SEED", "3"])
    assert split_config_overrides(["--x", "1"]) == (["--x", "1"], [])
    assert is_config_key("MODEL.FAN.ATTENTION_TARGETS") and is_config_key("OUTPUT_DIR")
    assert not is_config_key("IMG.JPG") and not is_config_key("model.weights") and not is_config_key("MODEL_X")


def test_multi_value_options_do_not_swallow_overrides():
    p = argparse.ArgumentParser()
    p.add_argument("--batch-sizes", type=int, nargs="+")
    p.add_argument("--input", nargs="+")
    add_overrides_argument(p)
    a = parse_args_with_overrides(p, ["--batch-sizes", "1", "8", "--input", "a", "b", "MODEL.DEVICE", "cpu"])
    assert a.batch_sizes == [1, 8] and a.input == ["a", "b"] and a.opts == ["MODEL.DEVICE", "cpu"]
    with pytest.raises(SystemExit):
        parse_args_with_overrides(p, ["--input", "a", "MODEL.DEVICE"])  # odd count
    with pytest.raises(SystemExit):
        parse_args_with_overrides(p, ["stray", "MODEL.DEVICE", "cpu"])  # a positional that is no key


def test_benchmark_takes_overrides_after_batch_sizes():
    from tool_loader import load_tool

    mod = load_tool("benchmark")
    from facelib.engine.cli import parse_args_with_overrides as parse

    a = parse(mod.get_parser(),
              ["--config-file", "c.yaml", "--batch-sizes", "1", "8", "MODEL.DEVICE", "cpu"])
    assert a.batch_sizes == [1, 8] and a.opts == ["MODEL.DEVICE", "cpu"]

"""The occlusion report: one self-contained HTML page (no server, no network, no script from
elsewhere) with the analyses of one or more sets of predictions on one dataset, side by side.

``write_report(out_dir, gt, results)`` writes::

    out_dir/index.html    settings AP, per-attribute AP / recall at the operating point, error
                          breakdown, missed faces per attribute, PR curves, gallery; with two or
                          more results, one column per result and the differences to the first
    out_dir/report.json   the same numbers (AnalysisResult.to_json() per result + differences)
    out_dir/img/*.png     the PR curves (matplotlib) and gallery crops (detectron2 Visualizer)

Every image path is relative (``img/...``), so the folder can be moved or archived whole. Each
``<img>`` and ``<table>`` carries a ``data-report`` marker, images record their load / error in
``data-loaded`` / ``data-failed``, and the page sets ``data-report-ready`` on ``<body>`` with the
numbers of loaded and failed images when the window has loaded: what a headless browser checks.
Numbers are percentages with one decimal (AP, recall), "-" where undefined (no face).
"""
import html
import json
import os
import re
from typing import List, Optional, Sequence

from .analysis_ground_truth import AnalysisGroundTruth
from .error_breakdown import ERROR_TYPES
from .occlusion_analysis import json_safe
from .plots import save_pr_curves
from .report_gallery import Gallery, draw_gallery

__all__ = ["write_report", "differences"]

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em 0; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #eee; }
td.pos { color: #0a7a0a; } td.neg { color: #b00; }
figure { display: inline-block; margin: 0.3em; vertical-align: top; width: 200px; font-size: 0.75em; }
figure.curve { width: 420px; }
img { max-width: 100%; border: 1px solid #ccc; }
.note { color: #555; font-size: 0.9em; }
"""

_READY_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = document.querySelectorAll("img[data-report]");
  var ok = 0, bad = 0;
  imgs.forEach(function (im) {
    if (im.complete && im.naturalWidth > 0 && !im.dataset.failed) { ok++; } else { bad++; }
  });
  document.body.dataset.reportReady = "loaded=" + ok + ";failed=" + bad;
});
"""


def _pct(x) -> str:
    return "-" if x is None or x != x else f"{100 * x:.1f}"


def _diff_cell(d, higher_is_better: bool = True) -> str:
    """A difference in %, green where it is an improvement, red where it is not."""
    if d is None or d != d:
        return "<td>-</td>"
    better = d > 0 if higher_is_better else d < 0
    cls = "" if d == 0 else "pos" if better else "neg"
    return f'<td class="{cls}">{100 * d:+.1f}</td>'


def _sub(a, b):
    if a is None or b is None or a != a or b != b:
        return None
    return a - b


def differences(results: Sequence) -> List[dict]:
    """Per result after the first, its AP / recall minus the first's, per setting, per group value
    and per error type's AP cost (fractions; None where either side is undefined)."""
    if not results:
        return []
    ref = results[0]
    out = []
    for r in results[1:]:
        groups = {}
        for g, values in r.breakdown["groups"].items():
            groups[g] = {v: {"ap": _sub(row["ap"], ref.breakdown["groups"][g][v]["ap"]),
                             "recall": _sub(row["recall"], ref.breakdown["groups"][g][v]["recall"])}
                         for v, row in values.items()}
        out.append({
            "label": r.label, "reference": ref.label,
            "settings": {s: _sub(row["ap"], ref.settings[s]["ap"]) for s, row in r.settings.items()},
            "groups": groups,
            "ap_gain": {k: _sub(r.errors["ap_gain"][k], ref.errors["ap_gain"][k]) for k in ERROR_TYPES},
        })
    return out


def _check_comparable(results):
    if not results:
        raise ValueError("write_report needs at least one AnalysisResult")
    labels = [r.label for r in results]
    if len(set(labels)) != len(labels):
        raise ValueError(f"the results' labels must be distinct, got {labels}")
    ref = results[0]
    for r in results[1:]:
        if r.dataset != ref.dataset or list(r.settings) != list(ref.settings) or \
                list(r.breakdown["groups"]) != list(ref.breakdown["groups"]):
            raise ValueError(f"results {ref.label!r} and {r.label!r} are not of the same dataset / settings")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def _img(src: str, alt: str) -> str:
    return (f'<img data-report="1" src="{html.escape(src)}" alt="{html.escape(alt)}" '
            'onload="this.dataset.loaded=\'1\'" onerror="this.dataset.failed=\'1\'">')


def _table(name: str, head: List[str], rows: List[List[str]]) -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f'<table data-report="{html.escape(name)}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _settings_table(results, diffs):
    e = html.escape
    head = ["setting", "faces"] + [f"AP {e(r.label)}" for r in results] + [f"&Delta; {e(d['label'])}" for d in diffs]
    rows = []
    for s in results[0].settings:
        rows.append([e(s), str(results[0].settings[s]["faces"])] + [_pct(r.settings[s]["ap"]) for r in results]
                    + [_diff_cell(d["settings"][s]) for d in diffs])
    return _table("settings", head, rows)


def _group_table(g, results, diffs):
    e = html.escape
    head = ["value", "faces"]
    for r in results:
        head += [f"AP {e(r.label)}", f"recall {e(r.label)}"]
    for d in diffs:
        head += [f"&Delta;AP {e(d['label'])}", f"&Delta;recall {e(d['label'])}"]
    rows = []
    for v, row0 in results[0].breakdown["groups"][g].items():
        row = [e(v), str(row0["faces"])]
        for r in results:
            rr = r.breakdown["groups"][g][v]
            row += [_pct(rr["ap"]), _pct(rr["recall"])]
        for d in diffs:
            row += [_diff_cell(d["groups"][g][v]["ap"]), _diff_cell(d["groups"][g][v]["recall"])]
        rows.append(row)
    return _table(f"group:{g}", head, rows)


def _errors_table(results, diffs):
    e = html.escape
    head = ["error type"]
    for r in results:
        head += [f"count {e(r.label)}", f"AP cost {e(r.label)}"]
    for d in diffs:
        head += [f"&Delta;AP cost {e(d['label'])}"]
    rows = []
    for k in ERROR_TYPES:
        row = [k]
        for r in results:
            row += [str(r.errors["counts"][k]), _pct(r.errors["ap_gain"][k])]
        row += [_diff_cell(d["ap_gain"][k], higher_is_better=False) for d in diffs]
        rows.append(row)
    return _table("errors", head, rows)


def _missed_table(results):
    e = html.escape
    head = ["group", "value", "faces"] + [f"missed {e(r.label)}" for r in results]
    rows = []
    for g, values in results[0].errors["missed_by"].items():
        for v in values:
            faces = results[0].breakdown["groups"].get(g, {}).get(v, {}).get("faces", "")
            rows.append([e(g), e(v), str(faces)] + [str(r.errors["missed_by"][g][v]) for r in results])
    return _table("missed_by", head, rows)


def _curves(results, img_dir, page_dir, dpi):
    keys = list(results[0].curves)
    figures = []
    for key in keys:
        title = key.replace("setting/", "setting ")
        path = os.path.join(img_dir, f"pr_{_slug(key)}.png")
        curves = [(r.label, *r.curves[key]) for r in results if key in r.curves]
        save_pr_curves(path, curves, title=title, dpi=dpi)
        figures.append((title, os.path.relpath(path, page_dir)))
    return figures


def write_report(out_dir: str, gt: AnalysisGroundTruth, results: Sequence, sources: Optional[Sequence[str]] = None,
                 gallery: bool = True, curve_dpi: int = 70) -> str:
    """Write the report of ``results`` (:class:`~facelib.evaluation.occlusion_analysis.AnalysisResult`,
    same dataset, distinct labels; the first is the reference of the differences) on ``gt`` into
    ``out_dir``; ``sources``: where each result's predictions came from (shown on the page).
    Returns the path of ``index.html``."""
    results = list(results)
    _check_comparable(results)
    sources = list(sources) if sources is not None else [""] * len(results)
    if len(sources) != len(results):
        raise ValueError(f"{len(sources)} sources for {len(results)} results")
    img_dir = os.path.join(out_dir, "img")
    os.makedirs(img_dir, exist_ok=True)
    diffs = differences(results)
    ref = results[0]
    e = html.escape

    galleries: List[Gallery] = []
    for i, r in enumerate(results):
        galleries.append(draw_gallery(r, gt, img_dir, f"g{i}_{_slug(r.label)}", relative_to=out_dir)
                         if gallery else Gallery())
    figures = _curves(results, img_dir, out_dir, curve_dpi)

    parts = [f"<h1>Occlusion analysis: {e(ref.dataset)}</h1>",
             f'<p class="note">{ref.num_images} images; matching at IoU {ref.iou_threshold:g} on float IoU '
             f"(greedy, by score); base setting <b>{e(ref.base_setting)}</b>: the per-attribute rows count "
             "its faces with the value, every other face is ignored (neither a hit nor a false positive). "
             f"Recall at the operating point: the score at which the precision over all the base setting's "
             f"faces is {ref.precision:g}. Numbers in %.</p>"]
    parts.append("<h2>Predictions</h2>")
    parts.append(_table("predictions", ["label", "source", "images without predictions", "operating-point score"],
                        [[e(r.label), e(src), str(r.images_without_predictions),
                          "-" if r.breakdown["threshold"] is None or r.breakdown["threshold"] != r.breakdown["threshold"]
                          else f"{r.breakdown['threshold']:.3f}"]
                         for r, src in zip(results, sources)]))
    parts.append("<h2>AP per setting</h2>" + _settings_table(results, diffs))
    parts.append(f"<h2>Per attribute ({e(ref.base_setting)} faces)</h2>")
    all_rows = [[e("all"), str(ref.breakdown["all"]["faces"])]
                + sum(([_pct(r.breakdown["all"]["ap"]), _pct(r.breakdown["all"]["recall"])] for r in results), [])]
    parts.append(_table("group:all", ["", "faces"] + sum(([f"AP {e(r.label)}", f"recall {e(r.label)}"]
                                                          for r in results), []), all_rows))
    for g in ref.breakdown["groups"]:
        parts.append(f"<h3>{e(g)}</h3>" + _group_table(g, results, diffs))
    parts.append("<h2>Errors (TIDE-style, IoU 0.5)</h2>"
                 '<p class="note">False positives: localisation (0.1 &le; IoU &lt; threshold with a face), '
                 "duplicate (a face already matched), background; AP cost: AP with that error type fixed "
                 "minus AP.</p>" + _errors_table(results, diffs))
    parts.append("<h3>Missed faces per attribute</h3>" + _missed_table(results))
    parts.append("<h2>Precision-recall curves</h2>" + "".join(
        f'<figure class="curve">{_img(src, title)}<figcaption>{e(title)}</figcaption></figure>' for title, src in figures))
    if gallery:
        parts.append("<h2>Gallery</h2>")
        for r, gal in zip(results, galleries):
            parts.append(f"<h3>{e(r.label)}</h3>")
            if gal.skipped_absent:
                parts.append(f'<p class="note">{gal.skipped_absent} picks skipped: their images are absent.</p>')
            for key, title in (("misses", "Largest missed faces (red; other faces green, ignored grey)"),
                               ("false_positives", "Most confident false positives (red; nearest face dashed yellow)")):
                tiles = gal.tiles[key]
                parts.append(f"<h4>{title}</h4>" + ("".join(
                    f"<figure>{_img(t.file, t.caption)}<figcaption>{e(t.caption)}</figcaption></figure>"
                    for t in tiles) or '<p class="note">none</p>'))

    page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>Occlusion analysis: {e(ref.dataset)}</title><style>{_STYLE}</style></head>"
            f"<body>{''.join(parts)}<script>{_READY_SCRIPT}</script></body></html>\n")
    index = os.path.join(out_dir, "index.html")
    with open(index, "w", encoding="utf-8") as f:
        f.write(page)
    with open(os.path.join(out_dir, "report.json"), "w", encoding="utf-8") as f:
        json.dump({"dataset": ref.dataset, "results": [r.to_json() for r in results],
                   "sources": sources, "differences": json_safe(diffs),
                   "gallery_skipped_absent": [g.skipped_absent for g in galleries]}, f, indent=1)
    return index

"""Precision-recall curve figures (matplotlib's Agg canvas; no pyplot state, no display needed)."""
from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple

import numpy as np

__all__ = ["save_pr_curves", "save_pr_curve"]


def save_pr_curves(
    path: str,
    curves: Sequence[Tuple[str, np.ndarray, np.ndarray]],
    title: Optional[str] = None,
    dpi: int = 100,
) -> str:
    """Write one PNG with a precision (y) over recall (x) line per ``(label, recall, precision)``,
    axes limited to [0, 1] like the official ``plot_pr.m``. NaN points (precision 0/0 at thresholds
    that keep no detection) are left out. Returns ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for label, recall, precision in curves:
        r = np.asarray(recall, dtype=np.float64).ravel()
        p = np.asarray(precision, dtype=np.float64).ravel()
        ok = np.isfinite(r) & np.isfinite(p)
        ax.plot(r[ok], p[ok], linewidth=2, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.grid(True)
    if title:
        ax.set_title(title)
    if any(label for label, _, _ in curves):
        ax.legend(loc="lower left")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png")
    return path


def save_pr_curve(path: str, recall, precision, label: str = "", title: Optional[str] = None) -> str:
    """One curve; see :func:`save_pr_curves`."""
    return save_pr_curves(path, [(label, recall, precision)], title=title)

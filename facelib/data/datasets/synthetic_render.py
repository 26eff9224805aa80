"""Drawing primitives of the embedded synthetic face set (see :mod:`.synthetic`).

Everything paints onto a float32 BGR canvas (values 0..255). Shapes are implicit alpha functions
evaluated at pixel centres in a canonical frame ``(u, v)`` (pixels; ``v`` points from forehead to
chin), so they are anti-aliased at every scale and their footprint is exact: a pixel belongs to a
shape when its alpha is >= 0.5, i.e. when its centre lies inside the analytic shape.
"""
import colorsys
import math

import cv2
import numpy as np

__all__ = [
    "Frame", "Layer", "ellipse", "capsule", "draw_background", "draw_face", "draw_mask",
    "draw_sunglasses", "draw_hand", "draw_distractor", "finish", "skin_color",
]


# ------------------------------------------------------------------------------ geometry / layers
class Frame:
    """Similarity frame: canonical ``(u, v)`` -> image ``(x, y)`` (centre ``(cx, cy)``, rotation ``angle`` rad)."""

    def __init__(self, cx: float, cy: float, angle: float = 0.0):
        self.cx, self.cy = float(cx), float(cy)
        self.c, self.s = math.cos(angle), math.sin(angle)

    def to_image(self, u: float, v: float):
        return self.cx + self.c * u - self.s * v, self.cy + self.s * u + self.c * v

    def grid(self, x0: int, y0: int, x1: int, y1: int):
        """Canonical coordinates of the pixel centres of the image box ``[x0, x1) x [y0, y1)``."""
        dx = (np.arange(x0, x1, dtype=np.float32) + 0.5 - self.cx)[None, :]
        dy = (np.arange(y0, y1, dtype=np.float32) + 0.5 - self.cy)[:, None]
        return self.c * dx + self.s * dy, -self.s * dx + self.c * dy


class Layer:
    """Paints shapes given in ``frame`` onto ``canvas`` inside ``box = (x0, y0, x1, y1)`` and records
    the union of their alphas (``alpha``, same size as the box). ``footprint()`` is ``alpha >= 0.5``."""

    def __init__(self, canvas: np.ndarray, frame: Frame, box):
        h, w = canvas.shape[:2]
        x0, y0, x1, y1 = box
        self.x0, self.y0 = max(int(x0), 0), max(int(y0), 0)
        self.x1, self.y1 = max(min(int(x1), w), self.x0), max(min(int(y1), h), self.y0)
        self.canvas, self.frame = canvas, frame
        self.alpha = np.zeros((self.y1 - self.y0, self.x1 - self.x0), np.float32)

    def paint(self, cu, cv, radius, alpha_fn, color, opacity=1.0, record=True):
        """Blend ``color`` (BGR triple, or ``fn(u, v) -> (..., 3)``) with alpha ``alpha_fn(u, v)``
        in the part of the layer box within ``radius`` px of the canonical point ``(cu, cv)``."""
        x, y = self.frame.to_image(cu, cv)
        r = radius + 2.0
        sx0, sy0 = max(int(math.floor(x - r)), self.x0), max(int(math.floor(y - r)), self.y0)
        sx1, sy1 = min(int(math.ceil(x + r)), self.x1), min(int(math.ceil(y + r)), self.y1)
        if sx1 <= sx0 or sy1 <= sy0:
            return
        u, v = self.frame.grid(sx0, sy0, sx1, sy1)
        a = alpha_fn(u, v)
        if opacity != 1.0:
            a = a * opacity
        col = color(u, v) if callable(color) else np.asarray(color, np.float32)
        region = self.canvas[sy0:sy1, sx0:sx1]
        region += (col - region) * a[..., None]
        if record:
            la = self.alpha[sy0 - self.y0:sy1 - self.y0, sx0 - self.x0:sx1 - self.x0]
            la += a - la * a

    def footprint(self) -> np.ndarray:
        return self.alpha >= 0.5


def ellipse(cu, cv, ea, eb, rot=0.0):
    """Alpha function of an ellipse (centre, semi-axes ``ea`` along ``rot``, ``eb`` across), ~1 px soft edge."""
    c, s = math.cos(rot), math.sin(rot)
    ea, eb = max(ea, 1e-3), max(eb, 1e-3)

    def fn(u, v):
        p, q = u - cu, v - cv
        if rot:
            p, q = c * p + s * q, -s * p + c * q
        r = np.sqrt((p / ea) ** 2 + (q / eb) ** 2)
        g = np.sqrt((p / (ea * ea)) ** 2 + (q / (eb * eb)) ** 2)
        ratio = np.divide(r, g, out=np.full_like(r, min(ea, eb)), where=g > 0)
        return np.clip(0.5 - (r - 1.0) * ratio, 0.0, 1.0)

    return fn


def capsule(u0, v0, u1, v1, rad):
    """Alpha function of a segment thickened by ``rad`` (lines, fingers, brows, straps)."""
    du, dv = u1 - u0, v1 - v0
    l2 = max(du * du + dv * dv, 1e-9)

    def fn(u, v):
        t = np.clip(((u - u0) * du + (v - v0) * dv) / l2, 0.0, 1.0)
        d = np.sqrt((u - u0 - t * du) ** 2 + (v - v0 - t * dv) ** 2) - rad
        return np.clip(0.5 - d, 0.0, 1.0)

    return fn


def _below(curve):
    """Alpha of the region ``v > curve(u)``."""
    return lambda u, v: np.clip(0.5 + (v - curve(u)), 0.0, 1.0)


def _prod(*fns):
    def fn(u, v):
        a = fns[0](u, v)
        for f in fns[1:]:
            a = a * f(u, v)
        return a
    return fn


# ------------------------------------------------------------------------------ colours
_SKIN_RGB = np.array([[255, 224, 196], [241, 194, 160], [224, 172, 130], [198, 134, 96],
                      [160, 104, 70], [120, 78, 50], [86, 56, 38]], np.float32)
_HAIR_RGB = np.array([[22, 18, 16], [55, 38, 26], [100, 68, 42], [196, 160, 105], [150, 150, 148],
                      [140, 66, 32], [40, 30, 25]], np.float32)


def skin_color(rng):
    t = rng.uniform(0, len(_SKIN_RGB) - 1.0001)
    i = int(t)
    c = _SKIN_RGB[i] * (1 - (t - i)) + _SKIN_RGB[i + 1] * (t - i)
    c = c * rng.uniform(0.9, 1.06) + rng.normal(0, 5, 3)
    return np.clip(c[::-1], 0, 255).astype(np.float32)


def _hair_color(rng):
    c = _HAIR_RGB[rng.integers(len(_HAIR_RGB))] + rng.normal(0, 8, 3)
    return np.clip(c[::-1], 0, 255).astype(np.float32)


def _random_color(rng, s=(0.0, 0.8), v=(0.15, 0.95)):
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*s), rng.uniform(*v))
    return np.array([b, g, r], np.float32) * 255.0


# ------------------------------------------------------------------------------ background
def _texture(rng, h, w, color):
    """A textured ``(h, w, 3)`` patch: flat, stripes, checker, noise or gradient."""
    kind = rng.integers(5)
    base = np.empty((h, w, 3), np.float32)
    base[:] = color
    if kind == 0:
        return base
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c2 = _random_color(rng)
    if kind == 1:  # stripes
        th, period = rng.uniform(0, math.pi), rng.uniform(3, 30)
        m = (np.sin((xx * math.cos(th) + yy * math.sin(th)) * 2 * math.pi / period) > 0)
        t = m.astype(np.float32) * rng.uniform(0.3, 1.0)
    elif kind == 2:  # checker
        p = rng.uniform(4, 24)
        t = (((xx // p) + (yy // p)) % 2).astype(np.float32) * rng.uniform(0.3, 1.0)
    elif kind == 3:  # noise texture
        gh, gw = max(2, int(h / rng.uniform(2, 12))), max(2, int(w / rng.uniform(2, 12)))
        t = cv2.resize(rng.uniform(0, 1, (gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    else:  # gradient
        t = (yy / max(h - 1, 1)) if rng.random() < 0.5 else (xx / max(w - 1, 1))
    return base + (c2 - base) * t[..., None]


def draw_background(rng, h: int, w: int) -> np.ndarray:
    """Photograph-like background: gradient + low-frequency noise + textured rectangles, blobs, lines."""
    c0, c1 = _random_color(rng), _random_color(rng)
    th = rng.uniform(0, 2 * math.pi)
    sh, sw = max(h // 4, 2), max(w // 4, 2)  # gradient + noise at 1/4 resolution, then one upsampling
    xx = np.arange(sw, dtype=np.float32)[None, :] / sw
    yy = np.arange(sh, dtype=np.float32)[:, None] / sh
    t = np.clip(0.5 + (xx - 0.5) * math.cos(th) + (yy - 0.5) * math.sin(th), 0, 1)
    small = c0 + (c1 - c0) * t[..., None]
    for cells, amp in ((rng.integers(2, 6), rng.uniform(10, 40)), (rng.integers(8, 24), rng.uniform(3, 12))):
        g = rng.normal(0, 1, (cells, cells, 3)).astype(np.float32)
        small += amp * cv2.resize(g, (sw, sh), interpolation=cv2.INTER_CUBIC)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    for _ in range(rng.integers(3, 14)):  # textured rectangles (walls, signs, windows)
        rw, rh = int(w * rng.uniform(0.05, 0.6)), int(h * rng.uniform(0.05, 0.6))
        x0, y0 = int(rng.integers(-rw // 2, w)), int(rng.integers(-rh // 2, h))
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + rw, w), min(y0 + rh, h)
        if xb - xa < 2 or yb - ya < 2:
            continue
        patch = _texture(rng, yb - ya, xb - xa, _random_color(rng))
        img[ya:yb, xa:xb] += (patch - img[ya:yb, xa:xb]) * rng.uniform(0.5, 1.0)
    for _ in range(rng.integers(2, 12)):  # blobs
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.uniform(2, max(w / 4, 3))), int(rng.uniform(2, max(h / 4, 3))))
        cv2.ellipse(img, center, axes, float(rng.uniform(0, 180)), 0, 360,
                    _random_color(rng).tolist(), -1, cv2.LINE_AA)
    for _ in range(rng.integers(2, 12)):  # lines (poles, wires, edges)
        p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.line(img, p0, p1, _random_color(rng).tolist(), int(rng.integers(1, 8)), cv2.LINE_AA)
    sigma = rng.uniform(0.3, 1.3)  # depth of field
    return cv2.GaussianBlur(img, (0, 0), sigma)


# ------------------------------------------------------------------------------ faces
def draw_face(canvas, rng, frame: Frame, a: float, b: float, box) -> Layer:
    """A face: skin ellipse (semi-axes ``a`` across, ``b`` along), hair, ears, neck, eyes, brows,
    nose, mouth, shading. Returns its layer (footprint = every pixel the face covers)."""
    L = Layer(canvas, frame, box)
    skin = skin_color(rng)
    L.skin = skin
    hair = _hair_color(rng)
    style = rng.choice(4, p=[0.45, 0.35, 0.1, 0.1])  # short, long, bald, curly
    yaw = rng.uniform(-0.18, 0.18)
    lu, lv = rng.normal(0, 1, 2)
    ln = math.hypot(lu, lv) + 1e-6
    lu, lv = lu / ln * rng.uniform(0.05, 0.3), lv / ln * rng.uniform(0.05, 0.3)

    def shaded(col, k=0.25):
        def fn(u, v):
            r2 = (u / a) ** 2 + (v / b) ** 2
            f = (1.0 - k * r2) * (1.0 + lu * u / a + lv * v / b)
            return col * np.clip(f, 0.3, 1.3)[..., None]
        return fn

    if rng.random() < 0.65:  # neck
        L.paint(0, 0.83 * b, 0.6 * b, capsule(0, 0.6 * b, 0, 1.05 * b, 0.42 * a), skin * 0.78)
    if style != 2:
        hair_tex = lambda u, v: hair * (0.85 + 0.15 * np.sin(u * (6.0 / max(a, 1)) * math.pi + v * 0.3))[..., None]
        if style == 1:
            L.paint(0, 0, max(1.22 * a, 1.1 * b), _prod(ellipse(0, 0, 1.22 * a, 1.1 * b),
                                   lambda u, v: np.clip(0.5 + (0.85 * b - v), 0, 1)), hair_tex)
        else:
            ha = 1.12 * a if style == 3 else 1.07 * a
            L.paint(0, -0.1 * b, max(ha, 1.04 * b), _prod(ellipse(0, -0.1 * b, ha, 1.04 * b),
                                   lambda u, v: np.clip(0.5 + (-0.05 * b - v), 0, 1)), hair_tex)
    for sgn in (-1, 1):  # ears
        L.paint(sgn * 0.97 * a, 0.02 * b, 0.25 * b, ellipse(sgn * 0.97 * a, 0.02 * b, 0.12 * a, 0.2 * b), skin * 0.85)
    L.paint(0, 0, max(a, b), ellipse(0, 0, a, b), shaded(skin))
    if style != 2:  # fringe in front of the forehead
        f0, fk, fph = rng.uniform(0.5, 0.68), rng.uniform(0.03, 0.1), rng.uniform(0, 2 * math.pi)
        fringe = lambda u: -b * (f0 + fk * np.cos(u / a * math.pi * 2 + fph))
        L.paint(0, -0.6 * b, 1.1 * a,
                _prod(ellipse(0, 0, a, b), lambda u, v: np.clip(0.5 + (fringe(u) - v), 0, 1)), hair)

    fu = lambda u0: yaw * a + u0 * (1.0 - 0.6 * abs(yaw))
    eye_sep, eye_v = rng.uniform(0.32, 0.42) * a, rng.uniform(-0.14, -0.03) * b
    ew, eh = rng.uniform(0.14, 0.19) * a, rng.uniform(0.06, 0.09) * b
    iris = np.array([[30, 50, 90], [60, 90, 120], [120, 110, 70], [40, 40, 40]], np.float32)[rng.integers(4)]
    gaze = rng.uniform(-0.3, 0.3) * ew
    closed = rng.random() < 0.08
    for sgn in (-1, 1):
        ex = fu(sgn * eye_sep)
        L.paint(ex, eye_v, 1.5 * ew, ellipse(ex, eye_v - 0.01 * b, 1.35 * ew, 1.6 * eh), skin * 0.72, 0.6)
        tilt = rng.uniform(-0.04, 0.04) * b
        L.paint(ex, eye_v - 0.21 * b, 0.25 * a, capsule(ex - 0.17 * a, eye_v - 0.2 * b + tilt, ex + 0.17 * a,
                                                          eye_v - 0.22 * b - tilt, 0.028 * b), hair * 0.9, 0.9)
        if closed:
            L.paint(ex, eye_v, ew, capsule(ex - ew, eye_v, ex + ew, eye_v, 0.012 * b), skin * 0.35)
            continue
        white = ellipse(ex, eye_v, ew, eh)
        L.paint(ex, eye_v, ew, white, (232, 236, 240), 0.95)
        L.paint(ex + gaze, eye_v, ew, _prod(white, ellipse(ex + gaze, eye_v, 0.9 * eh, 0.9 * eh)), iris)
        L.paint(ex + gaze, eye_v, ew, _prod(white, ellipse(ex + gaze, eye_v, 0.42 * eh, 0.42 * eh)), (15, 15, 15))
        lid = capsule(ex - ew, eye_v - 0.4 * eh, ex + ew, eye_v - 0.6 * eh, 0.01 * b + 0.15)
        L.paint(ex, eye_v - eh, 1.3 * ew, lid, skin * 0.3, 0.8)
    if rng.random() < 0.08:  # clear glasses (not an occluder)
        fc = _random_color(rng, v=(0.05, 0.5))
        for sgn in (-1, 1):
            ex = fu(sgn * eye_sep)
            outer = ellipse(ex, eye_v, 1.6 * ew, 2.1 * eh)
            inner = ellipse(ex, eye_v, 1.6 * ew - 0.03 * b, 2.1 * eh - 0.03 * b)
            ring = lambda u, v, o=outer, i=inner: np.clip(o(u, v) - i(u, v), 0, 1)
            L.paint(ex, eye_v, 2 * ew, ring, fc)
    nu = fu(rng.uniform(-0.04, 0.04) * a)
    nv = rng.uniform(0.2, 0.3) * b
    L.paint(nu, 0.1 * b, 0.3 * b, capsule(nu, -0.05 * b, nu + 0.02 * a, nv - 0.03 * b, 0.035 * a), skin * 0.8, 0.5)
    L.paint(nu, nv - 0.02 * b, 0.1 * b, ellipse(nu, nv - 0.02 * b, 0.09 * a, 0.055 * b), skin * 1.08, 0.4)
    for sgn in (-1, 1):
        nostril = ellipse(nu + sgn * 0.08 * a, nv + 0.01 * b, 0.05 * a, 0.028 * b)
        L.paint(nu + sgn * 0.08 * a, nv, 0.06 * b, nostril, skin * 0.45)
    if rng.random() < 0.12:  # beard
        L.paint(0, 0.6 * b, b, _prod(ellipse(0, 0, a, b), lambda u, v: np.clip(0.5 + (v - 0.35 * b), 0, 1)), hair, 0.85)
    mv = nv + rng.uniform(0.2, 0.3) * b
    mw = rng.uniform(0.22, 0.34) * a
    mu = fu(0)
    lips = (skin * 0.55 + np.array([70, 70, 160], np.float32) * 0.45)
    L.paint(mu, mv, mw, ellipse(mu, mv, mw, rng.uniform(0.04, 0.07) * b), lips, 0.9)
    if rng.random() < 0.2:  # open mouth with teeth
        L.paint(mu, mv, mw, ellipse(mu, mv + 0.01 * b, 0.7 * mw, 0.06 * b), (40, 30, 60))
        L.paint(mu, mv, mw, _prod(ellipse(mu, mv + 0.01 * b, 0.7 * mw, 0.06 * b),
                                  lambda u, v: np.clip(0.5 + (mv - 0.01 * b - v), 0, 1)), (225, 230, 235))
    else:
        curv = rng.uniform(-0.02, 0.06) * b
        for sgn in (-1, 1):
            line = capsule(mu + sgn * mw, mv - curv, mu, mv + 0.3 * curv, 0.012 * b + 0.1)
            L.paint(mu + sgn * mw / 2, mv, mw, line, skin * 0.3)
    return L


# ------------------------------------------------------------------------------ occluders
def draw_mask(canvas, rng, frame: Frame, a: float, b: float) -> Layer:
    """Surgical / cloth mask over the lower half of the face (with straps)."""
    L = Layer(canvas, frame, (0, 0, canvas.shape[1], canvas.shape[0]))
    kind = rng.integers(5)
    base = [np.array([225, 200, 150], np.float32), np.array([240, 240, 240], np.float32),
            np.array([35, 35, 38], np.float32), _random_color(rng), _random_color(rng)][kind]
    base = base + rng.normal(0, 6, 3).astype(np.float32)
    c2 = _random_color(rng)
    top0, topk = rng.uniform(0.05, 0.18) * b, rng.uniform(0.08, 0.16) * b
    top = lambda u: top0 + topk * (u / a) ** 2
    period = rng.uniform(0.12, 0.2) * b

    def col(u, v):
        f = 0.82 + 0.18 * np.clip(1.0 - (u / a) ** 2, 0, 1)
        pleat = 1.0 - 0.12 * (np.cos(2 * math.pi * (v - top0) / period) > 0.6)
        c = base * (f * pleat)[..., None]
        if kind == 4:  # patterned cloth
            c = c + (c2 - c) * (0.6 * (np.sin(u / max(a, 1) * 12) > 0.3))[..., None]
        return c

    L.paint(0, 0.5 * b, 1.2 * b, _prod(ellipse(0, 0.02 * b, 1.05 * a, 1.04 * b), _below(top)), col)
    sc = np.array([235, 235, 235], np.float32) if kind != 2 else base
    for sgn in (-1, 1):
        for v1 in (-0.15 * b, 0.55 * b):
            strap = capsule(sgn * 0.97 * a, top(a) + 0.08 * b, sgn * 1.04 * a, v1, 0.016 * b + 0.2)
            L.paint(sgn * a, 0.2 * b, 0.5 * b, strap, sc)
    return L


def draw_sunglasses(canvas, rng, frame: Frame, a: float, b: float) -> Layer:
    """Dark lenses (or a wrap-around band) over the eyes, bridge and arms."""
    L = Layer(canvas, frame, (0, 0, canvas.shape[1], canvas.shape[0]))
    ev = rng.uniform(-0.14, -0.04) * b
    lens = np.array([18, 18, 20], np.float32) + (_random_color(rng, v=(0.05, 0.35)) if rng.random() < 0.3 else 0)
    frame_c = _random_color(rng, v=(0.0, 0.5))
    shade = lambda u, v: lens * (1.0 + 0.8 * np.clip(-(v - ev) / b, 0, 1))[..., None]
    if rng.random() < 0.25:  # wrap-around band
        L.paint(0, ev, 1.1 * a, ellipse(0, ev, 0.95 * a, rng.uniform(0.13, 0.2) * b), shade, 0.97)
    else:
        sep, lw, lh = rng.uniform(0.34, 0.42) * a, rng.uniform(0.22, 0.3) * a, rng.uniform(0.13, 0.19) * b
        for sgn in (-1, 1):
            lr = max(lw, lh) + 0.03 * b
            L.paint(sgn * sep, ev, lr, ellipse(sgn * sep, ev, lw + 0.02 * b, lh + 0.02 * b), frame_c)
            L.paint(sgn * sep, ev, lr, ellipse(sgn * sep, ev, lw, lh), shade, 0.97)
            glint = capsule(sgn * sep - 0.5 * lw, ev - 0.2 * lh, sgn * sep - 0.1 * lw, ev - 0.6 * lh, 0.03 * b)
            L.paint(sgn * sep, ev, lr, _prod(ellipse(sgn * sep, ev, lw, lh), glint), (255, 255, 255), 0.35)
        L.paint(0, ev, sep, capsule(-sep + lw, ev - 0.3 * lh, sep - lw, ev - 0.3 * lh, 0.02 * b + 0.2), frame_c)
    for sgn in (-1, 1):
        arm = capsule(sgn * 0.78 * a, ev - 0.03 * b, sgn * 1.03 * a, ev - 0.01 * b, 0.02 * b + 0.2)
        L.paint(sgn * 0.95 * a, ev, 0.2 * a, arm, frame_c)
    return L


def draw_hand(canvas, rng, frame: Frame, a: float, b: float, skin=None, where=None) -> Layer:
    """A hand (palm, four fingers, thumb, forearm) over part of the face of frame/size ``(a, b)``."""
    L = Layer(canvas, frame, (0, 0, canvas.shape[1], canvas.shape[0]))
    skin = skin_color(rng) if skin is None else skin
    where = rng.integers(4) if where is None else where
    side = 1 if rng.random() < 0.5 else -1
    # ``phi``: direction the fingers point (0 = up); the forearm leaves the face on the other side.
    if where == 0:  # over the mouth, from the side
        hu, hv, phi = -side * rng.uniform(0.1, 0.35) * a, 0.5 * b, side * rng.uniform(1.1, 1.9)
    elif where == 1:  # on the chin, fingers up
        hu, hv, phi = rng.uniform(-0.2, 0.2) * a, 0.85 * b, rng.uniform(-0.4, 0.4)
    elif where == 2:  # cheek
        hu, hv, phi = side * 0.6 * a, 0.2 * b, -side * rng.uniform(0.0, 0.5)
    else:  # across the eyes
        hu, hv, phi = -side * 0.25 * a, -0.1 * b, side * rng.uniform(1.2, 1.8)
    s = rng.uniform(0.75, 1.1)
    pw, ph = 0.3 * b * s, 0.33 * b * s
    up = (math.sin(phi), -math.cos(phi))
    rt = (math.cos(phi), math.sin(phi))
    at = lambda k_up, k_rt: (hu + up[0] * k_up + rt[0] * k_rt, hv + up[1] * k_up + rt[1] * k_rt)
    dark, sh = skin * 0.72, skin * rng.uniform(0.92, 1.05)
    sleeve = _random_color(rng)
    e0, e1 = at(-0.6 * ph, 0), at(-3.2 * ph, 0)
    L.paint(*at(-1.9 * ph, 0), 1.6 * ph + pw, capsule(*e0, *e1, 0.75 * pw), sh * 0.9)
    s0 = at(-1.8 * ph, 0)
    L.paint(*at(-2.5 * ph, 0), 0.8 * ph + pw, capsule(*s0, *e1, 0.95 * pw), sleeve)
    L.paint(hu, hv, 1.2 * ph, ellipse(hu, hv, pw, ph, phi), sh)
    fr = 0.2 * pw
    for i in range(4):
        off = pw * (-0.72 + 0.48 * i)
        ln = ph * (1.0 + 0.25 * (1.5 - abs(i - 1.4))) * rng.uniform(0.85, 1.1)
        spl = (i - 1.5) * rng.uniform(0.0, 0.12)
        b0 = at(0.6 * ph, off)
        b1 = (b0[0] + (up[0] * math.cos(spl) + rt[0] * math.sin(spl)) * ln,
              b0[1] + (up[1] * math.cos(spl) + rt[1] * math.sin(spl)) * ln)
        L.paint(*b0, ln + fr + 1, capsule(*b0, *b1, fr + 0.5), dark)
        L.paint(*b0, ln + fr + 1, capsule(*b0, *b1, max(fr - 0.4, 0.3)), sh)
    tb = at(-0.2 * ph, side * 0.8 * pw)
    tt = at(0.5 * ph, side * 1.5 * pw)
    L.paint(*tb, 1.2 * ph, capsule(*tb, *tt, fr * 1.1 + 0.5), dark)
    L.paint(*tb, 1.2 * ph, capsule(*tb, *tt, max(fr * 1.1 - 0.4, 0.3)), sh)
    return L


# ------------------------------------------------------------------------------ distractors
def draw_distractor(canvas, rng, frame: Frame, size: float) -> None:
    """A face-like non-face of height about ``size``: skin blob, hand, disc with two dots, shaded
    ball or back of a head (hair, ears, no facial features). Not annotated."""
    kind = rng.integers(5)
    a, b = 0.4 * size * rng.uniform(0.7, 1.2), 0.5 * size
    L = Layer(canvas, frame, (0, 0, canvas.shape[1], canvas.shape[0]))
    R = 1.5 * size
    if kind == 0:  # skin-coloured blob (shaded)
        skin = skin_color(rng)
        col = lambda u, v: skin * np.clip(1 - 0.25 * ((u / a) ** 2 + (v / b) ** 2) + 0.15 * u / a, 0.3, 1.3)[..., None]
        L.paint(0, 0, R, ellipse(0, 0, a * rng.uniform(0.6, 1.6), b, rng.uniform(-1, 1)), col)
    elif kind == 1:
        draw_hand(canvas, rng, frame, a, b, where=int(rng.integers(4)))
    elif kind == 2:  # round object with two dots only
        c = skin_color(rng) if rng.random() < 0.5 else _random_color(rng)
        L.paint(0, 0, R, ellipse(0, 0, a, a), c)
        dc = _random_color(rng, v=(0.0, 0.3))
        for sgn in (-1, 1):
            L.paint(sgn * 0.35 * a, -0.15 * a, 0.2 * a, ellipse(sgn * 0.35 * a, -0.15 * a, 0.1 * a, 0.1 * a), dc)
    elif kind == 3:  # shaded ball
        c = _random_color(rng, s=(0.2, 1.0), v=(0.3, 1.0))
        col = lambda u, v: c * np.clip(1.1 - 0.6 * ((u + 0.3 * a) ** 2 + (v + 0.3 * a) ** 2) / (a * a),
                                       0.2, 1.3)[..., None]
        L.paint(0, 0, R, ellipse(0, 0, a, a), col)
    else:  # back of a head
        skin, hair = skin_color(rng), _hair_color(rng)
        L.paint(0, 0.83 * b, 0.6 * b, capsule(0, 0.6 * b, 0, 1.05 * b, 0.42 * a), skin * 0.78)
        for sgn in (-1, 1):
            ear = ellipse(sgn * 0.97 * a, 0.02 * b, 0.12 * a, 0.2 * b)
            L.paint(sgn * 0.97 * a, 0.02 * b, 0.25 * b, ear, skin * 0.85)
        L.paint(0, 0, R, ellipse(0, -0.02 * b, 1.05 * a, 1.02 * b),
                lambda u, v: hair * (0.85 + 0.15 * np.sin(u * 6.0 / max(a, 1) * math.pi))[..., None])


def finish(rng, canvas: np.ndarray) -> np.ndarray:
    """Camera look: slight blur, colour/contrast jitter, sensor noise; returns BGR uint8."""
    if rng.random() < 0.5:
        canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.4, 0.8))
    k, bias = rng.uniform(0.85, 1.15), rng.uniform(-15, 15)
    gain = rng.uniform(0.9, 1.1, 3)
    m = np.zeros((3, 4), np.float32)  # per channel: ((x - 128) * k + 128 + bias) * gain
    m[:, 3] = (128.0 * (1 - k) + bias) * gain
    m[[0, 1, 2], [0, 1, 2]] = k * gain
    canvas = cv2.transform(canvas, m)
    h, w = canvas.shape[:2]
    noise = np.frombuffer(rng.bytes(h * w * 3), np.uint8).reshape(h, w, 3)  # uniform, std 73.9
    sn = rng.uniform(1.0, 4.0) / 73.9
    return cv2.addWeighted(canvas, 1.0, noise, sn, -127.5 * sn, dtype=cv2.CV_8U)

#!/usr/bin/python3
"""cmsim_peer.py - an independent NumPy implementation of the reference model.

What it is for: a second, separately written implementation of MODEL.md
(version 1) that reads the same libconfig scenario files as cmsim and writes
a summary.csv of the same layout, so that the two can be compared in
distribution (bench/peer/compare_means.py).  Where MODEL.md is silent it
follows the engine's documented decisions (docs/model.md, section 11).

What it deliberately does NOT share with cmsim: the random streams.  cmsim
draws every number from an addressed Philox stream; the peer uses NumPy's own
Generator (PCG64) sequentially, so path n of the peer has nothing to do with
path n of cmsim.  Only means (and undefined fractions) can be compared, within
Monte Carlo error.  Samplers are independent too: a truncated normal is drawn
by inversion with Acklam's inverse normal (below), jumps, Poisson counts and
beta variates come from NumPy.

Workload: everything is vectorised over paths, arrays of shape (paths,) or
(paths, years); Python loops run only over years, projects, tranches,
minerals and countries.  20 000 paths of a 10-project, 30-year scenario take
a few seconds and a few hundred MB.

Units as in MODEL.md: money in USD million, prices in USD per unit, quantities
in units per year, time in whole years (index t = 0 .. H-1).

usage:
  /usr/bin/python3 cmsim_peer.py run FILE [--paths N] [--seed S] --out CSV
  /usr/bin/python3 cmsim_peer.py selftest
"""

import argparse
import csv
import io
import math
import os
import sys

import numpy as np

try:
    import libconf
except ImportError:  # reported by main(); selftest does not need it
    libconf = None


# ---------------------------------------------------------------------------
# 0. Scenario file

def load_scenario(path):
    """The scenario file as nested dicts and tuples (libconf), with
    @include resolved against the folder of the top-level file.  A `batch`
    group is ignored: the peer simulates the file's own (reference)
    settings only."""
    if libconf is None:
        raise RuntimeError("python3-libconf is not available (import libconf)")
    folder = os.path.dirname(os.path.abspath(path))
    with io.open(path, encoding="utf-8") as f:
        return libconf.load(f, filename=path, includedir=folder)


def _num(x):
    return float(x)


# ---------------------------------------------------------------------------
# 1. Uncertain parameters

# Acklam's rational approximation of the inverse standard normal CDF
# (relative error below 1.15e-9 over (0, 1)).  NumPy has no normal ppf and
# SciPy is deliberately not used; this accuracy is far below any Monte Carlo
# error the peer is compared at.
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
      6.680131188771972e+01, -1.328068155288572e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
      -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
      3.754408661907416e+00)


def inv_norm(p):
    """Phi^-1(p) elementwise for p in (0, 1); 0 and 1 give -inf and +inf."""
    p = np.asarray(p, dtype=float)
    out = np.empty_like(p)
    plow = 0.02425
    lo = p < plow
    hi = p > 1.0 - plow
    mid = ~(lo | hi)
    q = p[mid] - 0.5
    r = q * q
    num = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q
    den = ((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0
    out[mid] = num / den
    with np.errstate(divide="ignore"):
        for mask, sign, pp in ((lo, 1.0, p[lo]), (hi, -1.0, 1.0 - p[hi])):
            q = np.sqrt(-2.0 * np.log(pp))
            num = ((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]
            den = (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
            out[mask] = sign * num / den
    return out


def norm_cdf(x):
    """Phi(x) for a scalar (math.erfc: used only at distribution bounds)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def open_uniform(rng, shape):
    """Uniforms strictly inside (0, 1): (k + 0.5) / 2^53."""
    return (rng.integers(0, 2 ** 53, size=shape, dtype=np.int64) + 0.5) / 2.0 ** 53


def lognormal_params(spec):
    """(mu, sigma) of ln X from either form of a lognormal group."""
    if "mu" in spec:
        return _num(spec["mu"]), _num(spec["sigma"])
    m, s = _num(spec["mean"]), _num(spec["sd"])
    s2 = math.log1p((s / m) ** 2)
    return math.log(m) - 0.5 * s2, math.sqrt(s2)


def sample(spec, rng, shape):
    """Draws of an uncertain parameter (U): a plain number or a group
    { dist = ...; }, as an array of the given shape (MODEL.md section 1)."""
    if not isinstance(spec, dict):
        return np.full(shape, _num(spec))
    kind = spec["dist"]
    if kind == "fixed":
        return np.full(shape, _num(spec["value"]))
    if kind == "uniform":
        lo, hi = _num(spec["min"]), _num(spec["max"])
        return lo + (hi - lo) * rng.random(shape)
    if kind == "normal":
        mean, sd = _num(spec["mean"]), _num(spec["sd"])
        if "min" not in spec and "max" not in spec:
            return mean + sd * rng.standard_normal(shape)
        lo = _num(spec["min"]) if "min" in spec else -math.inf
        hi = _num(spec["max"]) if "max" in spec else math.inf
        if sd == 0.0:
            return np.full(shape, mean)
        return truncated_normal(mean, sd, lo, hi, rng, shape)
    if kind == "lognormal":
        mu, sigma = lognormal_params(spec)
        return np.exp(mu + sigma * rng.standard_normal(shape))
    if kind == "triangular":
        return triangular(_num(spec["min"]), _num(spec["mode"]), _num(spec["max"]),
                          rng.random(shape))
    if kind == "pert":
        lo, mode, hi = _num(spec["min"]), _num(spec["mode"]), _num(spec["max"])
        lam = _num(spec["lambda"]) if "lambda" in spec else 4.0
        if hi == lo:
            return np.full(shape, lo)
        a = 1.0 + lam * (mode - lo) / (hi - lo)
        b = 1.0 + lam * (hi - mode) / (hi - lo)
        return lo + (hi - lo) * rng.beta(a, b, shape)
    if kind == "beta":
        lo = _num(spec["min"]) if "min" in spec else 0.0
        hi = _num(spec["max"]) if "max" in spec else 1.0
        return lo + (hi - lo) * rng.beta(_num(spec["a"]), _num(spec["b"]), shape)
    if kind == "discrete":
        values = np.array([_num(v) for v in spec["values"]])
        w = np.array([_num(v) for v in spec["weights"]])
        cum = np.cumsum(w / w.sum())
        cum[-1] = 1.0
        idx = np.searchsorted(cum, rng.random(shape), side="right")
        return values[np.minimum(idx, len(values) - 1)]
    if kind == "bernoulli":
        return (rng.random(shape) < _num(spec["p"])).astype(float)
    raise ValueError("unknown distribution %r" % kind)


def truncated_normal(mean, sd, lo, hi, rng, shape):
    """Normal(mean, sd) truncated to [lo, hi], by inversion of one uniform;
    an interval in the upper tail is inverted in upper-tail form (Q = 1 -
    Phi), where Phi would round to 1."""
    a, b = (lo - mean) / sd, (hi - mean) / sd
    u = open_uniform(rng, shape)
    if a > 0.0:
        qa, qb = norm_cdf(-a), norm_cdf(-b)
        z = -inv_norm(qa - u * (qa - qb))
    else:
        pa, pb = norm_cdf(a), norm_cdf(b)
        z = inv_norm(pa + u * (pb - pa))
    return np.clip(mean + sd * z, lo, hi)


def triangular(lo, mode, hi, u):
    """Triangular(lo, mode, hi) by inversion of uniforms u in [0, 1)."""
    r = hi - lo
    if r == 0.0:
        return np.full(u.shape, lo)
    f = (mode - lo) / r
    left = lo + np.sqrt(u * r * (mode - lo))
    right = hi - np.sqrt((1.0 - u) * r * (hi - mode))
    return np.where(u < f, left, right)


def round_half_away(x):
    """Nearest integer, ties away from zero (2.5 -> 3)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


# ---------------------------------------------------------------------------
# Model context: the scenario in plain Python values.

class Model:
    """The scenario's structure, read once; no randomness here."""

    def __init__(self, cfg, paths=None, seed=None, build_rounding="away"):
        run = cfg["run"]
        self.name = cfg["name"]
        if "batch" in cfg and "reference" in cfg["batch"]:
            self.scenario_name = cfg["batch"]["reference"]
        else:
            self.scenario_name = cfg["name"]
        self.paths = int(paths if paths is not None else run["paths"])
        self.seed = int(seed if seed is not None else run.get("seed", 1))
        self.H = int(run["horizon"])
        self.base_year = int(run.get("base_year", 2026))
        self.r = _num(run["discount_rate"])
        self.r_e = _num(run.get("equity_discount_rate", run["discount_rate"]))
        self.region = run.get("region", None)
        self.build_rounding = build_rounding
        self.countries = {}
        for c in cfg["countries"]:
            self.countries[c["name"]] = {"region": c.get("region", None),
                                         "hazard": c.get("expropriation", 0.0)}
        self.routes = {}
        for rt in cfg.get("routes", ()):
            self.routes[rt["name"]] = {
                "cost": _num(rt["cost"]), "p": _num(rt["disruption"]),
                "cut": _num(rt["cut"]),
                "fallback": _num(rt["fallback_cost"]) if "fallback_cost" in rt else None}
        self.minerals = list(cfg["minerals"])
        self.mindex = {m["name"]: i for i, m in enumerate(self.minerals)}
        for m in self.minerals:
            for pr in m.get("market", {}).get("producers", ()):
                if pr["country"] not in self.countries:  # the implicit "Other"
                    self.countries[pr["country"]] = {"region": None, "hazard": 0.0}
        M = len(self.minerals)
        R = np.eye(M)
        for c in cfg.get("correlations", ()):
            i, j = (self.mindex[n] for n in c["between"])
            R[i, j] = R[j, i] = _num(c["rho"])
        self.chol = np.linalg.cholesky(R)
        self.projects = list(cfg["projects"])
        self.tranche_names = []
        for p in self.projects:
            for tr in p["financing"]:
                if tr["name"] not in self.tranche_names:
                    self.tranche_names.append(tr["name"])


# ---------------------------------------------------------------------------
# 3. Commodity prices and export controls

def simulate_prices(mdl, rng):
    """Price paths P (minerals, paths, H), before any export-control
    multiplier, and the restricted-regime indicator (minerals, paths, H)."""
    N, H, M = mdl.paths, mdl.H, len(mdl.minerals)
    x = np.empty((M, N, H))
    for k, m in enumerate(mdl.minerals):
        x[k, :, 0] = math.log(_num(m["price"]["p0"]))
    for t in range(1, H):
        e = rng.standard_normal((N, M))
        Z = e @ mdl.chol.T  # Z(., t) = L e(., t)
        for k, m in enumerate(mdl.minerals):
            pr = m["price"]
            sigma = _num(pr["sigma"])
            prev = x[k, :, t - 1]
            if pr["model"] == "gbm":
                nxt = prev + (_num(pr["mu"]) - 0.5 * sigma ** 2) + sigma * Z[:, k]
            else:
                a = math.log(_num(pr["long_run"]))
                kap = _num(pr["kappa"])
                sd = sigma * math.sqrt(-math.expm1(-2.0 * kap) / (2.0 * kap))
                nxt = a + (prev - a) * math.exp(-kap) + sd * Z[:, k]
            if "jumps" in pr and _num(pr["jumps"]["rate"]) > 0.0:
                j = pr["jumps"]
                cnt = rng.poisson(_num(j["rate"]), N)
                # the sum of cnt Normal(mean, sd) jump sizes, exactly
                nxt = nxt + cnt * _num(j["mean"]) + \
                    np.sqrt(cnt) * _num(j["sd"]) * rng.standard_normal(N)
            x[k, :, t] = nxt
    restricted = np.zeros((M, N, H), dtype=bool)
    for k, m in enumerate(mdl.minerals):
        if "controls" not in m:
            continue
        c = m["controls"]
        p_start, p_end = _num(c["p_start"]), _num(c["p_end"])
        state = np.zeros(N, dtype=bool)  # open at t = 0
        for t in range(1, H):
            u = rng.random(N)
            state = np.where(state, ~(u < p_end), u < p_start)
            restricted[k, :, t] = state
    return np.exp(x), restricted


# ---------------------------------------------------------------------------
# 4 (routes) and 6 (political risk): shared per-path events

def simulate_routes(mdl, rng):
    """Disrupted years per route: bool (paths, H)."""
    return {name: rng.random((mdl.paths, mdl.H)) < rt["p"]
            for name, rt in mdl.routes.items()}


def simulate_countries(mdl, rng):
    """Expropriation event year per country: int (paths,), H when none."""
    N, H = mdl.paths, mdl.H
    tau = {}
    for name, c in mdl.countries.items():
        h = sample(c["hazard"], rng, N)
        hit = rng.random((N, H)) < h[:, None]
        hit &= (h > 0.0)[:, None]
        any_hit = hit.any(axis=1)
        tau[name] = np.where(any_hit, hit.argmax(axis=1), H)
    return tau


# ---------------------------------------------------------------------------
# IRR: vectorised bisection on (-0.99, 10)

IRR_LO, IRR_HI = -0.99, 10.0


def _f_pos(F, x):
    """f(x) = sum_t F_t (1+x)^-t by Horner from the last year (x >= 0)."""
    v = 1.0 / (1.0 + x)
    acc = np.zeros(F.shape[0])
    for t in range(F.shape[1] - 1, -1, -1):
        acc = acc * v + F[:, t]
    return acc


def _f_neg(F, x, last):
    """h(x) = sum_{t <= last} F_t (1+x)^(last-t) = f(x) (1+x)^last, a
    positive multiple of f that stays finite for x <= 0."""
    g = 1.0 + x
    acc = np.zeros(F.shape[0])
    for t in range(F.shape[1]):
        acc = np.where(t <= last, acc * g + F[:, t], acc)
    return acc


def irr(F):
    """IRR per path of flows F (paths, H): the root of f on [-0.99, 10],
    defined only when f changes sign between the two ends (MODEL.md 4); NaN
    otherwise and for all-zero flows.  The bracket with the sign change is
    (-0.99, 0) if f(-0.99) and f(0) differ in sign, else (0, 10); bisection
    to a bracket narrower than 1e-10."""
    N, H = F.shape
    nz = F != 0.0
    allzero = ~nz.any(axis=1)
    last = np.where(allzero, 0, H - 1 - np.argmax(nz[:, ::-1], axis=1))
    s_lo = np.sign(_f_neg(F, np.full(N, IRR_LO), last))
    s_0 = np.sign(F.sum(axis=1))
    s_hi = np.sign(_f_pos(F, np.full(N, IRR_HI)))
    out = np.full(N, np.nan)
    defined = ~allzero & ((s_lo == 0) | (s_hi == 0) | (s_lo != s_hi))
    out[defined & (s_lo == 0)] = IRR_LO
    out[defined & (s_lo != 0) & (s_hi == 0)] = IRR_HI
    solve = defined & (s_lo != 0) & (s_hi != 0)
    out[solve & (s_0 == 0)] = 0.0
    neg = solve & (s_0 != 0) & (s_lo != s_0)
    pos = solve & (s_0 != 0) & ~neg
    for mask, a, b, fn in ((neg, IRR_LO, 0.0, "neg"), (pos, 0.0, IRR_HI, "pos")):
        if not mask.any():
            continue
        Fm, lastm = F[mask], last[mask]
        lo = np.full(Fm.shape[0], a)
        hi = np.full(Fm.shape[0], b)
        s_a = s_lo[mask] if fn == "neg" else s_0[mask]
        while np.max(hi - lo) > 1e-10:
            mid = 0.5 * (lo + hi)
            fm = _f_neg(Fm, mid, lastm) if fn == "neg" else _f_pos(Fm, mid)
            same = np.sign(fm) == s_a
            lo = np.where(same, mid, lo)
            hi = np.where(same, hi, mid)
            exact = fm == 0.0
            lo = np.where(exact, mid, lo)
            hi = np.where(exact, mid, hi)
        out[mask] = 0.5 * (lo + hi)
    return out


def discount(F, r):
    """sum_t F_t (1+r)^-t per path (year-0 flows undiscounted)."""
    return F @ (1.0 + r) ** -np.arange(F.shape[1], dtype=float)


# ---------------------------------------------------------------------------
# 4. One project: production and unlevered cash flows

def project_operations(mdl, p, rng, prices, restricted, disrupted):
    """Draws and operating lines of project p, arrays (paths, H)."""
    N, H = mdl.paths, mdl.H
    t = np.arange(H)[None, :]
    s = int(p["start"])
    C = sample(p["capex"], rng, N)
    Kd = sample(p["build_years"], rng, N)
    K = round_half_away(Kd) if mdl.build_rounding == "away" else np.round(Kd)
    K = np.maximum(1, K).astype(np.int64)
    Q = sample(p["capacity"], rng, N)
    c = sample(p["opex"], rng, N)
    u = np.clip(sample(p["utilization"], rng, (N, H)), 0.0, 1.0)
    s0 = s + K
    build = (t >= s) & (t < s0[:, None])
    capex_t = np.where(build, (C / K)[:, None], 0.0)
    a = t - s0[:, None]
    L = int(p["life"])
    prod = (a >= 0) & (a < L)
    ramp = np.array([_num(v) for v in p.get("ramp_up", [])] + [1.0])
    rfac = ramp[np.clip(a, 0, len(ramp) - 1)]
    q = np.where(prod, Q[:, None] * rfac * u, 0.0)

    route = p.get("route", None)
    if route is None:
        q_sold, transport = q, np.zeros_like(q)
    else:
        rt, dis = mdl.routes[route], disrupted[route]
        k, cut = rt["cost"], rt["cut"]
        if rt["fallback"] is not None:
            q_sold = q
            t_dis = ((1.0 - cut) * q * k + cut * q * rt["fallback"]) / 1e6
        else:
            q_sold = np.where(dis, (1.0 - cut) * q, q)
            t_dis = (1.0 - cut) * q * k / 1e6
        transport = np.where(dis, t_dis, q * k / 1e6)

    mi = mdl.mindex[p["mineral"]]
    m = mdl.minerals[mi]
    P_eff = prices[mi]
    if "controls" in m and p["country"] != m["market"]["dominant"]:
        P_eff = np.where(restricted[mi], P_eff * _num(m["controls"]["price_multiplier"]), P_eff)
    revenue = q_sold * P_eff / 1e6
    royalty = _num(p["royalty"]) * revenue
    opex = q * c[:, None] / 1e6 + transport
    ebitda = np.where(prod, revenue - royalty - opex, 0.0)
    D = int(p["depreciation_years"])
    dep = np.where(prod & (a < D), (C / D)[:, None], 0.0)
    tax = _num(p["tax"])
    fcf = ebitda - tax * np.maximum(0.0, ebitda - dep) - capex_t
    return {"C": C, "K": K, "s0": s0, "capex_t": capex_t, "q": q,
            "ebitda": ebitda, "dep": dep, "tax": tax, "fcf": fcf}


# ---------------------------------------------------------------------------
# 5. Financing: the contractual debt schedule of one tranche

def debt_schedule(tr, capex_t, s0):
    """Opening balance, interest paid and principal (paths, H) of one debt
    tranche: draws w capex(t), interest on the opening balance capitalised
    before R = s0 + grace, then annuity or linear repayment over the tenor,
    the last year clearing the balance."""
    N, H = capex_t.shape
    w, i = _num(tr["share"]), _num(tr["rate"])
    n, g = int(tr["tenor"]), int(tr.get("grace", 0))
    annuity = tr.get("amortisation", "annuity") == "annuity"
    R = s0 + g
    B = np.zeros(N)
    B_R = np.zeros(N)
    A = np.zeros(N)
    opening = np.zeros((N, H))
    paid = np.zeros((N, H))
    principal = np.zeros((N, H))
    for t in range(H):
        opening[:, t] = B
        interest = i * B
        start = R == t
        B_R = np.where(start, B, B_R)
        if i == 0.0:
            A = np.where(start, B / n, A)
        else:
            A = np.where(start, B * i / (1.0 - (1.0 + i) ** -n), A)
        repay = (t >= R) & (t < R + n)
        prin = (A - interest) if annuity else B_R / n
        prin = np.where(t == R + n - 1, B, prin)
        paid[:, t] = np.where(repay, interest, 0.0)
        principal[:, t] = np.where(repay, prin, 0.0)
        B = np.where(t < R, B + interest + w * capex_t[:, t],
                     np.where(repay, B - prin, B))
    return opening, paid, principal


def first_true(mask, H):
    """Index of the first True per row, H where none."""
    return np.where(mask.any(axis=1), mask.argmax(axis=1), H)


def at(X, idx):
    """X[path, idx[path]] with idx clipped into range."""
    return np.take_along_axis(X, np.minimum(idx, X.shape[1] - 1)[:, None], axis=1)[:, 0]


def project_outcomes(mdl, p, ops, tau_country):
    """Financing (5) and political risk (6) on top of the operating lines;
    returns the 14 per-path project outcomes and w C per tranche name."""
    N, H = mdl.paths, mdl.H
    t = np.arange(H)[None, :]
    s = int(p["start"])
    capex_t, ebitda, dep, tax = ops["capex_t"], ops["ebitda"], ops["dep"], ops["tax"]
    s0 = ops["s0"]

    w_e = sum(_num(tr["share"]) for tr in p["financing"] if tr["type"] == "equity")
    debts = [tr for tr in p["financing"]
             if tr["type"] == "debt" and _num(tr["share"]) > 0.0]
    bal = np.zeros((N, H))
    paid = np.zeros((N, H))
    prin = np.zeros((N, H))
    tranche_bal = []
    for tr in debts:
        o, ip, pr = debt_schedule(tr, capex_t, s0)
        bal += o
        paid += ip
        prin += pr
        tranche_bal.append(o)
    ds = paid + prin
    cfads = ebitda - tax * np.maximum(0.0, ebitda - dep - paid)

    # Political risk: the country's event hits projects started by then.
    tc = tau_country[p["country"]]
    hit = (tc < H) & (s <= tc)
    tau = np.where(hit, tc, H)

    # Default: first year with DS > 0 and DSCR < 1, before any expropriation.
    has_ds = ds > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        dscr = np.where(has_ds, cfads / np.where(has_ds, ds, 1.0), np.nan)
    before_tau = t < tau[:, None]
    td = first_true(has_ds & (dscr < 1.0) & before_tau, H)
    defaulted = td < H
    window = has_ds & before_tau & (t <= td[:, None])
    min_dscr = np.where(window.any(axis=1),
                        np.min(np.where(window, dscr, np.inf), axis=1), np.nan)

    eq_in = w_e * capex_t
    EQ = np.sum(np.where(t < tau[:, None], eq_in, 0.0), axis=1)
    B_td, B_tau = at(bal, td), at(bal, tau)
    pri = _num(p.get("pri_cover", 0.0))
    exposure = np.where(defaulted, B_td, np.where(hit, (1.0 - pri) * B_tau, 0.0))

    fcf = ops["fcf"]
    claim = np.where(defaulted, B_td, B_tau)
    fcf = np.where(t > tau[:, None], 0.0, fcf)
    fcf = np.where(t == tau[:, None], (pri * (claim + EQ))[:, None], fcf)

    t_end = np.minimum(td, tau)
    E = np.where(t < t_end[:, None], -eq_in + cfads - ds, 0.0)
    payout = hit & ~defaulted
    E = np.where((t == tau[:, None]) & payout[:, None], (pri * EQ)[:, None], E)

    # LLCR at the first repayment year of any (positive-share) debt tranche.
    llcr = np.full(N, np.nan)
    if debts:
        t0 = np.min([s0 + int(tr.get("grace", 0)) for tr in debts], axis=0)
        tl = np.max([s0 + int(tr.get("grace", 0)) + int(tr["tenor"]) - 1 for tr in debts], axis=0)
        B0 = at(bal, t0)
        ok = (t0 < H) & (B0 > 0.0)
        iw = sum(_num(tr["rate"]) * at(o, t0) for tr, o in zip(debts, tranche_bal))
        iw = iw / np.where(ok, B0, 1.0)
        cf_star = np.where(before_tau, cfads, 0.0)
        window = (t >= t0[:, None]) & (t <= tl[:, None])
        df = (1.0 + iw[:, None]) ** -(t - t0[:, None]).astype(float)
        num = np.sum(np.where(window, cf_star * df, 0.0), axis=1)
        llcr = np.where(ok, num / np.where(ok, B0, 1.0), np.nan)

    r = _num(p.get("discount_rate", mdl.r))
    r_e = _num(p.get("equity_discount_rate", mdl.r_e))
    cum = np.cumsum(fcf, axis=1)
    pb = first_true((t >= s0[:, None]) & (cum >= 0.0), H)
    by = mdl.base_year
    out = {
        "npv": discount(fcf, r),
        "irr": irr(fcf),
        "npv_equity": discount(E, r_e),
        "irr_equity": irr(E),
        "min_dscr": min_dscr,
        "llcr": llcr,
        "default": defaulted.astype(float),
        "default_year": np.where(defaulted, by + td, np.nan),
        "exposure_at_default": exposure,
        "expropriated": hit.astype(float),
        "payback_year": np.where(pb < H, by + pb, np.nan),
        "capex": ops["C"],
        "first_output_year": np.where(s0 <= H - 1, by + s0, np.nan),
        "output_total": ops["q"].sum(axis=1),
    }
    financing = {tr["name"]: _num(tr["share"]) * ops["C"] for tr in p["financing"]}
    return out, financing


# ---------------------------------------------------------------------------
# 7. Market and supply diversification

def market_outcomes(mdl, k, rng, q_by_country, restricted):
    """Yearly market outcomes (paths, H) of mineral k, or {} without a
    market; q_by_country: this mineral's project output per country."""
    m = mdl.minerals[k]
    if "market" not in m:
        return {}
    N, H = mdl.paths, mdl.H
    mk = m["market"]
    dom = mk["dominant"]
    t = np.arange(H, dtype=float)[None, :]
    names = [pr["country"] for pr in mk["producers"]]
    base = {}
    for pr in mk["producers"]:
        g = sample(pr.get("growth", 0.0), rng, N)
        base[pr["country"]] = _num(pr["output0"]) * (1.0 + g[:, None]) ** t
    names += [c for c in q_by_country if c not in names]
    zero = np.zeros((N, H))
    cf = np.stack([base.get(c, zero) for c in names])            # (countries, N, H)
    sup = cf + np.stack([q_by_country.get(c, zero) for c in names])
    idom = names.index(dom)
    in_region = np.array([mdl.region is not None and
                          mdl.countries.get(c, {}).get("region") == mdl.region
                          for c in names])

    def stats(S):
        total = S.sum(axis=0)
        ok = total > 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            share = S / np.where(ok, total, 1.0)
        share = np.where(ok, share, np.nan)
        dshare = share[idom]
        hhi = np.sum((100.0 * share) ** 2, axis=0)
        region = share[in_region].sum(axis=0) if mdl.region is not None else np.full((N, H), np.nan)
        region = np.where(ok, region, np.nan)
        top3 = np.sort(np.nan_to_num(share), axis=0)[::-1][:3].sum(axis=0)
        top3 = np.where(ok, top3, np.nan)
        eu65 = np.where(ok & (dshare > 0.65), 1.0, 0.0)
        return dshare, hhi, region, top3, eu65

    dshare, hhi, region, top3, eu65 = stats(sup)
    dshare_cf = stats(cf)[0]
    out = {"dominant_share": dshare, "hhi": hhi, "region_share": region,
           "top3_share": top3, "eu65": eu65,
           "diversification": dshare_cf - dshare}
    if "controls" in m:
        c = m["controls"]
        shortfall = np.where(restricted[k], _num(c["export_cut"]) *
                             _num(mk["export_fraction"]) * sup[idom], 0.0)
        outside = sum((v for cn, v in q_by_country.items() if cn != dom), zero)
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = np.minimum(1.0, outside / np.where(shortfall > 0.0, shortfall, 1.0))
        out["shortfall"] = shortfall
        out["covered"] = np.where(shortfall > 0.0, cov, np.nan)
    return out


# ---------------------------------------------------------------------------
# 8. Outcomes and summary statistics

PROJECT_OUTCOMES = [  # name, unit, kind (as cmsim's summary.csv)
    ("npv", "USD million", "low"), ("irr", "fraction per year", "plain"),
    ("npv_equity", "USD million", "low"), ("irr_equity", "fraction per year", "plain"),
    ("min_dscr", "ratio", "plain"), ("llcr", "ratio", "plain"),
    ("default", "0/1", "binary"), ("default_year", "calendar year", "plain"),
    ("exposure_at_default", "USD million", "high"), ("expropriated", "0/1", "binary"),
    ("payback_year", "calendar year", "plain"), ("capex", "USD million", "high"),
    ("first_output_year", "calendar year", "plain"), ("output_total", "units", "plain")]
PORTFOLIO_OUTCOMES = [("npv_total", "USD million", "low"),
                      ("npv_equity_total", "USD million", "low"),
                      ("capex_total", "USD million", "high"),
                      ("exposure_total", "USD million", "high"),
                      ("any_default", "0/1", "binary")]
MINERAL_OUTCOMES = [
    ("price", "USD per unit", "plain", "all"), ("restricted", "0/1", "binary", "controls"),
    ("new_output", "units", "plain", "all"), ("dominant_share", "fraction", "plain", "market"),
    ("hhi", "index 0-10000", "plain", "market"), ("region_share", "fraction", "plain", "market"),
    ("top3_share", "fraction", "plain", "market"), ("eu65", "0/1", "binary", "market"),
    ("diversification", "fraction", "plain", "market"),
    ("shortfall", "units", "plain", "controls"), ("covered", "fraction", "plain", "controls")]

COLUMNS = ["scenario", "outcome", "entity_type", "entity", "year", "unit", "n",
           "n_undefined", "mean", "sd", "se", "min", "p05", "p25", "p50", "p75",
           "p95", "max", "cvar05", "prob", "prob_se"]


def column_stats(X, kind):
    """Statistics of each column of X (paths, k): NaN = undefined.  Exact
    type-7 quantiles; cvar05 = mean of the worst ceil(n/20) values."""
    X = np.where(np.isfinite(X), X, np.nan)
    n = np.sum(~np.isnan(X), axis=0)
    S = np.sort(X, axis=0)  # NaN last
    res = []
    for j in range(X.shape[1]):
        nj = int(n[j])
        v = S[:nj, j]
        row = {"n": nj, "n_undefined": X.shape[0] - nj}
        if nj > 0:
            mean = float(np.mean(v))
            row.update(mean=mean, min=float(v[0]), max=float(v[-1]))
            for q, key in ((0.05, "p05"), (0.25, "p25"), (0.5, "p50"), (0.75, "p75"), (0.95, "p95")):
                pos = q * (nj - 1)
                lo = int(math.floor(pos))
                hi = min(lo + 1, nj - 1)
                row[key] = float(v[lo] + (pos - lo) * (v[hi] - v[lo]))
            if nj >= 2:
                sd = float(np.std(v, ddof=1))
                row.update(sd=sd, se=sd / math.sqrt(nj))
            m = int(math.ceil(nj / 20.0))
            if kind == "low":
                row["cvar05"] = float(np.mean(v[:m]))
            elif kind == "high":
                row["cvar05"] = float(np.mean(v[-m:]))
            elif kind == "binary":
                row["prob"] = mean
                row["prob_se"] = math.sqrt(max(0.0, mean * (1.0 - mean)) / nj)
        res.append(row)
    return res


def simulate(mdl):
    """All per-path outcomes: a list of (outcome, unit, kind, entity_type,
    entity, year or None, values (paths,))."""
    rng = np.random.default_rng(mdl.seed)
    N, H = mdl.paths, mdl.H
    prices, restricted = simulate_prices(mdl, rng)
    disrupted = simulate_routes(mdl, rng)
    tau_country = simulate_countries(mdl, rng)
    rows = []
    npv_total = np.zeros(N)
    npv_equity_total = np.zeros(N)
    capex_total = np.zeros(N)
    exposure_total = np.zeros(N)
    any_default = np.zeros(N, dtype=bool)
    financing = {name: np.zeros(N) for name in mdl.tranche_names}
    q_mineral = [dict() for _ in mdl.minerals]
    for p in mdl.projects:
        ops = project_operations(mdl, p, rng, prices, restricted, disrupted)
        out, fin = project_outcomes(mdl, p, ops, tau_country)
        for name, unit, kind in PROJECT_OUTCOMES:
            rows.append((name, unit, kind, "project", p["name"], None, out[name]))
        npv_total += out["npv"]
        npv_equity_total += out["npv_equity"]
        capex_total += out["capex"]
        exposure_total += out["exposure_at_default"]
        any_default |= out["default"] > 0.5
        for name, v in fin.items():
            financing[name] += v
        qd = q_mineral[mdl.mindex[p["mineral"]]]
        qd[p["country"]] = qd.get(p["country"], 0.0) + ops["q"]
    rows.append(("npv_total", "USD million", "low", "portfolio", "portfolio", None, npv_total))
    rows.append(("npv_equity_total", "USD million", "low", "portfolio", "portfolio", None,
                 npv_equity_total))
    rows.append(("capex_total", "USD million", "high", "portfolio", "portfolio", None, capex_total))
    rows.append(("exposure_total", "USD million", "high", "portfolio", "portfolio", None,
                 exposure_total))
    rows.append(("any_default", "0/1", "binary", "portfolio", "portfolio", None,
                 any_default.astype(float)))
    for name in mdl.tranche_names:
        rows.append(("financing", "USD million", "low", "tranche", name, None, financing[name]))
    for k, m in enumerate(mdl.minerals):
        yearly = {"price": prices[k], "restricted": restricted[k].astype(float),
                  "new_output": sum(q_mineral[k].values(), np.zeros((N, H)))}
        yearly.update(market_outcomes(mdl, k, rng, q_mineral[k], restricted))
        for name, unit, kind, applies in MINERAL_OUTCOMES:
            if applies == "controls" and "controls" not in m:
                continue
            if applies == "market" and "market" not in m:
                continue
            rows.append((name, unit, kind, "mineral", m["name"], "yearly", yearly[name]))
    return rows


def fmt(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def write_summary(mdl, rows, out):
    """summary.csv in cmsim's layout (one row per outcome and year)."""
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for name, unit, kind, etype, entity, yearly, values in rows:
            X = values if yearly else values[:, None]
            years = [mdl.base_year + t for t in range(mdl.H)] if yearly else [None]
            for year, st in zip(years, column_stats(X, kind)):
                rec = {"scenario": mdl.scenario_name, "outcome": name, "entity_type": etype,
                       "entity": entity, "year": year, "unit": unit}
                rec.update(st)
                w.writerow([fmt(rec.get(c)) for c in COLUMNS])


# ---------------------------------------------------------------------------
# Self-test: the peer against hand computations and analytic results

def selftest():
    """Checks the peer's building blocks against hand values and analytic
    means.  Returns the number of failures (0 = all passed)."""
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    # Inverse normal against a bisection of math.erfc's Phi.
    ps = np.array([1e-12, 1e-6, 0.001, 0.02425, 0.1, 0.3, 0.5, 0.8, 0.97575, 0.999, 1 - 1e-9])
    ref = []
    for p in ps:
        lo, hi = -10.0, 10.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if norm_cdf(mid) < p else (lo, mid)
        ref.append(0.5 * (lo + hi))
    err = np.max(np.abs(inv_norm(ps) - np.array(ref)) / np.maximum(1.0, np.abs(ref)))
    check(err < 1e-8, "inv_norm within 1e-8 of bisected Phi (err %.2e)" % err)

    # Sample means against analytic means (5 standard errors).
    rng = np.random.default_rng(12345)
    n = 200000
    cases = [
        ({"dist": "uniform", "min": 2.0, "max": 5.0}, 3.5),
        ({"dist": "normal", "mean": 1.0, "sd": 2.0}, 1.0),
        ({"dist": "normal", "mean": 0.0, "sd": 1.0, "min": 0.0},
         math.sqrt(2.0 / math.pi)),
        ({"dist": "normal", "mean": 0.0, "sd": 1.0, "min": 3.0, "max": 4.0},
         (math.exp(-4.5) - math.exp(-8.0)) / math.sqrt(2 * math.pi) /
         (norm_cdf(4.0) - norm_cdf(3.0))),
        ({"dist": "lognormal", "mean": 420.0, "sd": 120.0}, 420.0),
        ({"dist": "lognormal", "mu": -4.0, "sigma": 0.3}, math.exp(-4.0 + 0.045)),
        ({"dist": "triangular", "min": 1.0, "mode": 2.0, "max": 6.0}, 3.0),
        ({"dist": "pert", "min": 250.0, "mode": 300.0, "max": 500.0}, (250 + 1200 + 500) / 6.0),
        ({"dist": "beta", "a": 18.0, "b": 2.0, "min": 1.0, "max": 3.0}, 1.0 + 2.0 * 0.9),
        ({"dist": "discrete", "values": [2, 3, 4], "weights": [3, 5, 2]}, 2.9),
        ({"dist": "bernoulli", "p": 0.95}, 0.95),
    ]
    for spec, mean in cases:
        x = sample(spec, rng, n)
        z = (x.mean() - mean) / (x.std(ddof=1) / math.sqrt(n))
        check(abs(z) < 5.0, "mean of %s (z = %.2f)" % (spec["dist"], z))
    x = sample({"dist": "normal", "mean": 0.0, "sd": 1.0, "min": 3.0, "max": 4.0}, rng, n)
    check(x.min() >= 3.0 and x.max() <= 4.0, "truncated normal stays in [3, 4]")
    check(np.array_equal(round_half_away(np.array([0.4, 0.5, 1.5, 2.5, 3.49])),
                         np.array([0.0, 1.0, 2.0, 3.0, 3.0])), "build years round half away")

    # IRR: hand roots and the undefined cases.
    F = np.array([[-100.0, 110.0, 0.0],
                  [-100.0, 0.0, 121.0],
                  [100.0, -110.0, 0.0],
                  [-100.0, -1.0, 0.0],
                  [0.0, 0.0, 0.0],
                  [-100.0, 50.0, 0.0]])
    got = irr(F)
    check(abs(got[0] - 0.1) < 1e-9 and abs(got[1] - 0.1) < 1e-9 and abs(got[2] - 0.1) < 1e-9,
          "irr of (-100, 110), (-100, 0, 121), (100, -110) = 0.1")
    check(np.isnan(got[3]) and np.isnan(got[4]), "irr undefined without a sign change")
    check(abs(got[5] + 0.5) < 1e-9, "irr of (-100, 50) = -0.5 (negative bracket)")

    # The worked example of docs/model.md section 6 (test reference_table):
    # 60 % debt at 10 %, tenor 2, grace 1, annuity, C = 100 over K = 2 from s = 1.
    capex_t = np.array([[0.0, 50.0, 50.0, 0, 0, 0, 0, 0]])
    o, ip, pr = debt_schedule({"share": 0.6, "rate": 0.1, "tenor": 2, "grace": 1,
                               "amortisation": "annuity"}, capex_t, np.array([3]))
    A = 69.3 * 0.1 / (1.0 - 1.1 ** -2)
    check(np.allclose(o[0, :6], [0, 0, 30, 63, 69.3, 69.3 * 1.1 - A], rtol=1e-12),
          "debt opening balances 0, 0, 30, 63, 69.3, ..")
    check(np.allclose(ip[0] + pr[0], [0, 0, 0, 0, A, A, 0, 0], rtol=1e-12) and abs(A - 39.93) < 1e-9,
          "annuity debt service 39.93 in years 4 and 5")
    o, ip, pr = debt_schedule({"share": 1.0, "rate": 0.05, "tenor": 4, "grace": 0,
                               "amortisation": "linear"},
                              np.array([[100.0, 0, 0, 0, 0, 0]]), np.array([1]))
    check(np.allclose(pr[0], [0, 25, 25, 25, 25, 0]) and
          np.allclose(ip[0], [0, 5, 3.75, 2.5, 1.25, 0]) and
          np.allclose(o[0], [0, 100, 75, 50, 25, 0]), "linear schedule 100 at 5 % over 4 years")

    check(abs(discount(np.array([[-100.0, 110.0]]), 0.1)[0]) < 1e-12, "npv at the irr is 0")

    # Market statistics of known shares: D 50, X 30, Other 20 (+ a project
    # of 25 units in Y, not a listed producer, in year 1).
    cfg = {"name": "t", "run": {"paths": 2, "horizon": 2, "discount_rate": 0.1, "region": "r"},
           "countries": [{"name": "D"}, {"name": "X", "region": "r"}, {"name": "Y"}],
           "minerals": [{"name": "m", "price": {"model": "gbm", "p0": 1.0, "mu": 0.0, "sigma": 0.0},
                         "market": {"dominant": "D", "export_fraction": 0.5, "producers": [
                             {"country": "D", "output0": 50.0}, {"country": "X", "output0": 30.0},
                             {"country": "Other", "output0": 20.0}]}}],
           "projects": []}
    mk = market_outcomes(Model(cfg), 0, rng, {"Y": np.array([[0.0, 25.0]] * 2)}, None)
    check(np.allclose(mk["hhi"][0], [3800.0, 2832.0]) and
          np.allclose(mk["dominant_share"][0], [0.5, 0.4]) and
          np.allclose(mk["top3_share"][0], [1.0, 0.84]) and
          np.allclose(mk["region_share"][0], [0.3, 0.24]) and
          np.allclose(mk["diversification"][0], [0.0, 0.1]) and
          not mk["eu65"].any(), "hhi, shares and diversification of a known market")
    print("%d failed" % len(failures))
    return len(failures)


# ---------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description="NumPy peer implementation of MODEL.md")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="simulate a scenario file, write summary.csv")
    r.add_argument("file")
    r.add_argument("--paths", type=int, default=None)
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--out", required=True, help="summary CSV to write")
    r.add_argument("--build-rounding", choices=("away", "even"), default="away",
                   help="ties of build years: half away from zero (default) or to even")
    sub.add_parser("selftest", help="check the peer against hand computations")
    args = ap.parse_args(argv)
    if args.cmd == "selftest":
        return 1 if selftest() else 0
    mdl = Model(load_scenario(args.file), args.paths, args.seed, args.build_rounding)
    write_summary(mdl, simulate(mdl), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""gen_workloads.py - write the generated benchmark workloads of bench/.

    python3 bench/gen_workloads.py            # (re)write bench/portfolio.cfg, bench/sweep50.cfg
    python3 bench/gen_workloads.py --check    # exit 1 if the committed files differ
    python3 bench/gen_workloads.py --outdir D # write into D instead (bench.py's check)

Both outputs are committed, so a benchmark run never depends on this script;
the script documents how they were made and lets anyone regenerate them.
The output is a pure function of this script and scenarios/example.cfg:
a private 64-bit LCG with a fixed seed (not Python's `random`, whose
algorithms may change between versions) and fixed float formatting.

(b) portfolio.cfg: one scenario (no batch), 100 projects, 20 minerals, a
    50-year horizon, 25 countries (and Other), 3 routes, correlated prices, export
    controls on 9 minerals.  Market sizes, shares and price levels are round
    figures of the order of USGS Mineral Commodity Summaries 2024 (2023
    production); they are benchmark inputs, plausible in size and spread, not
    a calibration: nothing is concluded from this scenario's results.
    Projects are drawn from per-mineral templates (capacity, capital intensity,
    cost as a fraction of the price), scaled by random factors; each
    project's budget is set so that its base case earns a project IRR of
    roughly 15-30 % (mean IRRs after overruns and delays of about 5-25 %,
    like scenarios/central_asia.cfg's 8-27 %).

(c) sweep50.cfg: scenarios/example.cfg (renamed "sweep50") with a 50-point
    sweep of the royalty of its three projects, 0.002 to 0.100 in steps of
    0.002: 51 scenarios in all.  example.cfg rather than central_asia.cfg's
    reference keeps 51 scenarios x 5 repetitions x 2 thread counts within
    the time budget of `make bench` (see bench/README.md).
"""

import argparse
import hashlib
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class Lcg:
    """Knuth's MMIX 64-bit LCG; uniform() takes the top 53 bits."""

    def __init__(self, seed):
        self.x = seed & 0xFFFFFFFFFFFFFFFF

    def uniform(self):
        self.x = (self.x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        return (self.x >> 11) / float(1 << 53)

    def between(self, lo, hi):
        return lo + (hi - lo) * self.uniform()

    def index(self, n):
        return min(int(self.uniform() * n), n - 1)


def g(x, digits=6):
    """A float in libconfig syntax: always with a decimal point or exponent."""
    s = "%.*g" % (digits, x)
    if "e" not in s and "." not in s and "inf" not in s and "nan" not in s:
        s += ".0"
    return s


# ---------------------------------------------------------------------------
# (b) the large portfolio

# Countries: where projects are (the C5 and Mongolia, with expropriation
# hazards as in central_asia.cfg: pert(0, spread/4, spread)) and the other
# producers of the 20 markets (hazard 0: no project there).
PROJECT_COUNTRIES = [
    # name, default spread (max hazard), royalty, tax, equity premium, commercial rate
    ("Kazakhstan", 0.0184, 0.07, 0.20, 0.0217, 0.0684),
    ("Uzbekistan", 0.0301, 0.07, 0.15, 0.0355, 0.0801),
    ("Kyrgyzstan", 0.0544, 0.05, 0.10, 0.0642, 0.1044),
    ("Tajikistan", 0.0544, 0.06, 0.18, 0.0642, 0.1044),
    ("Turkmenistan", 0.0680, 0.07, 0.20, 0.0800, 0.1180),
    ("Mongolia", 0.0442, 0.05, 0.25, 0.0530, 0.0942),
]
OTHER_COUNTRIES = ["China", "Chile", "Peru", "Australia", "USA", "Myanmar", "Canada",
                   "Namibia", "South Africa", "India", "Russia", "Vietnam", "DR Congo",
                   "Indonesia", "Philippines", "Madagascar", "Mozambique", "Gabon",
                   "Mexico"]

# Minerals: name, unit, p0 (USD/unit), model, sigma, jumps (rate, mean, sd)
# or None, dominant, export_fraction, controls (p_start, p_end, multiplier,
# export_cut) or None, producers [(country, output0 per year, growth mean)],
# project template (capacity per year, cost as fraction of p0).
MINERALS = [
    ("copper", "t", 8500.0, "ou", 0.18, None, "China", 0.05, None,
     [("China", 1.7e6, 0.0), ("Chile", 5.0e6, 0.01), ("Peru", 2.6e6, 0.02),
      ("Kazakhstan", 6.0e5, 0.02), ("Other", 1.21e7, 0.02)], 40000.0, 0.45),
    ("rare_earths", "t", 20000.0, "ou", 0.40, (0.05, 0.358, 0.2), "China", 0.3,
     (0.05, 0.5, 1.43, 0.25),
     [("China", 2.4e5, 0.02), ("USA", 4.3e4, 0.03), ("Myanmar", 3.8e4, 0.0),
      ("Australia", 1.8e4, 0.04), ("Other", 3.1e4, 0.04)], 2000.0, 0.40),
    ("uranium", "tU", 213000.0, "ou", 0.25, None, "Kazakhstan", 0.95, None,
     [("Kazakhstan", 2.1e4, 0.01), ("Canada", 7.4e3, 0.02), ("Namibia", 5.6e3, 0.02),
      ("Uzbekistan", 3.3e3, 0.02), ("Other", 1.17e4, 0.02)], 1000.0, 0.35),
    ("chromite", "t", 290.0, "ou", 0.20, None, "South Africa", 0.5, None,
     [("South Africa", 1.8e7, 0.02), ("Kazakhstan", 6.0e6, 0.02), ("India", 4.0e6, 0.02),
      ("Other", 1.3e7, 0.02)], 500000.0, 0.50),
    ("antimony", "t", 12346.0, "ou", 0.45, (0.05, 0.358, 0.2), "China", 0.2,
     (0.05, 0.5, 1.43, 0.25),
     [("China", 4.0e4, -0.01), ("Tajikistan", 2.1e4, 0.0), ("Russia", 5.5e3, 0.0),
      ("Other", 1.65e4, 0.02)], 3000.0, 0.45),
    ("tungsten", "t", 40000.0, "ou", 0.20, None, "China", 0.2, (0.05, 0.5, 1.43, 0.25),
     [("China", 6.3e4, 0.0), ("Vietnam", 3.5e3, 0.01), ("Russia", 2.0e3, 0.0),
      ("Other", 9.5e3, 0.02)], 1500.0, 0.45),
    ("lithium", "t", 80000.0, "gbm", 0.35, (0.03, -0.3, 0.2), "Australia", 0.9, None,
     [("Australia", 8.6e4, 0.03), ("Chile", 4.4e4, 0.03), ("China", 3.3e4, 0.03),
      ("Other", 1.7e4, 0.04)], 3000.0, 0.45),
    ("cobalt", "t", 33000.0, "ou", 0.35, None, "DR Congo", 0.95, (0.03, 0.3, 1.6, 0.4),
     [("DR Congo", 1.7e5, 0.03), ("Indonesia", 1.7e4, 0.04), ("Russia", 8.8e3, 0.0),
      ("Other", 3.4e4, 0.02)], 2000.0, 0.45),
    ("nickel", "t", 21000.0, "ou", 0.30, None, "Indonesia", 0.6, (0.04, 0.4, 1.3, 0.3),
     [("Indonesia", 1.8e6, 0.03), ("Philippines", 4.0e5, 0.01), ("Russia", 2.0e5, 0.0),
      ("Other", 1.2e6, 0.01)], 20000.0, 0.50),
    ("graphite", "t", 1100.0, "ou", 0.25, None, "China", 0.4, (0.05, 0.4, 1.5, 0.3),
     [("China", 1.23e6, 0.02), ("Madagascar", 1.0e5, 0.04), ("Mozambique", 9.6e4, 0.04),
      ("Other", 1.7e5, 0.03)], 40000.0, 0.45),
    ("gallium", "t", 300000.0, "ou", 0.35, (0.05, 0.358, 0.2), "China", 0.5,
     (0.08, 0.3, 1.43, 0.5),
     [("China", 7.2e2, 0.02), ("Russia", 5.0, 0.0), ("Other", 2.5e1, 0.04)], 20.0, 0.45),
    ("germanium", "t", 1300000.0, "ou", 0.30, None, "China", 0.5, (0.08, 0.3, 1.5, 0.5),
     [("China", 9.5e1, 0.01), ("Russia", 5.0, 0.0), ("Other", 4.0e1, 0.03)], 5.0, 0.45),
    ("vanadium", "t", 25000.0, "ou", 0.35, None, "China", 0.3, None,
     [("China", 7.0e4, 0.0), ("Russia", 2.0e4, 0.0), ("South Africa", 8.0e3, 0.0),
      ("Other", 2.0e3, 0.04)], 2000.0, 0.50),
    ("molybdenum", "t", 44000.0, "ou", 0.35, None, "China", 0.1, None,
     [("China", 1.1e5, 0.01), ("Chile", 3.8e4, 0.01), ("USA", 3.4e4, 0.0),
      ("Peru", 3.3e4, 0.01), ("Other", 4.5e4, 0.01)], 2500.0, 0.45),
    ("zinc", "t", 2600.0, "ou", 0.20, None, "China", 0.05, None,
     [("China", 4.0e6, 0.0), ("Peru", 1.4e6, 0.01), ("Australia", 1.1e6, 0.01),
      ("Kazakhstan", 2.0e5, 0.01), ("Other", 5.3e6, 0.01)], 80000.0, 0.55),
    ("manganese", "t", 500.0, "ou", 0.25, None, "South Africa", 0.9, None,
     [("South Africa", 7.4e6, 0.02), ("Gabon", 4.6e6, 0.03), ("Australia", 3.3e6, 0.0),
      ("China", 7.7e5, 0.0), ("Other", 3.9e6, 0.02)], 300000.0, 0.55),
    ("titanium", "t", 300.0, "ou", 0.20, None, "China", 0.2, None,
     [("China", 3.4e6, 0.02), ("Mozambique", 1.2e6, 0.03), ("South Africa", 9.0e5, 0.0),
      ("Other", 3.5e6, 0.01)], 300000.0, 0.50),
    ("tin", "t", 25000.0, "ou", 0.25, None, "China", 0.1, (0.03, 0.5, 1.3, 0.2),
     [("China", 6.8e4, 0.0), ("Indonesia", 5.2e4, -0.01), ("Myanmar", 5.4e4, 0.0),
      ("Peru", 2.3e4, 0.0), ("Other", 1.0e5, 0.01)], 3000.0, 0.50),
    ("fluorspar", "t", 500.0, "ou", 0.20, None, "China", 0.2, (0.03, 0.5, 1.3, 0.2),
     [("China", 5.7e6, 0.01), ("Mexico", 1.3e6, 0.01), ("Mongolia", 9.0e5, 0.02),
      ("Other", 1.6e6, 0.02)], 150000.0, 0.50),
    ("bismuth", "t", 8000.0, "ou", 0.30, None, "China", 0.3, None,
     [("China", 1.0e4, 0.0), ("Other", 3.0e3, 0.02)], 500.0, 0.50),
]

# Price-shock correlations between mineral groups (a sparse, positive
# definite pattern: small, positive).
CORRELATIONS = [
    ("copper", "zinc", 0.4), ("copper", "nickel", 0.3), ("copper", "molybdenum", 0.3),
    ("zinc", "nickel", 0.2), ("copper", "cobalt", 0.2), ("nickel", "cobalt", 0.3),
    ("lithium", "cobalt", 0.3), ("lithium", "graphite", 0.2), ("lithium", "nickel", 0.2),
    ("rare_earths", "antimony", 0.3), ("rare_earths", "tungsten", 0.2),
    ("antimony", "tungsten", 0.2), ("gallium", "germanium", 0.4),
    ("gallium", "rare_earths", 0.2), ("chromite", "manganese", 0.3),
    ("chromite", "vanadium", 0.2), ("titanium", "zinc", 0.1), ("tin", "copper", 0.2),
]

ROUTES = [
    # name, cost USD/unit, disruption, cut, fallback cost or None
    ("middle_corridor", 115.0, 0.10, 0.5, 186.0),
    ("northern", 114.0, 0.15, 1.0, 195.0),
    ("china_rail", 90.0, 0.05, 0.3, None),
]


def portfolio_text():
    rng = Lcg(20261128)
    out = io.StringIO()
    w = out.write
    w("# bench/portfolio.cfg - GENERATED by bench/gen_workloads.py; do not edit by hand.\n")
    w("#\n# Benchmark workload (b): a large portfolio, 100 projects in 20 minerals over a\n"
      "# 50-year horizon.  Plausible in size and spread (round figures of the order of\n"
      "# USGS MCS 2024), not a calibration: see bench/gen_workloads.py.  Units as in\n"
      "# scenarios/example.cfg: USD million, USD per unit, units per year, years.\n\n")
    w('name = "portfolio";\n')
    w('description = "Benchmark: 100 projects, 20 minerals, 50 years (generated)";\n\n')
    w("run = {\n  seed = 20261128L;\n  paths = 20000;\n  horizon = 50;\n  base_year = 2026;\n"
      "  discount_rate = 0.084;\n  region = \"central_asia\";\n  exact_quantiles = false;\n};\n\n")

    w("countries = (\n")
    rows = []
    for name, spread, _, _, _, _ in PROJECT_COUNTRIES:
        region = "central_asia" if name != "Mongolia" else "east_asia"
        rows.append('  { name = "%s"; region = "%s";\n    expropriation = { dist = "pert"; '
                    'min = 0.0; mode = %s; max = %s; }; }' % (name, region, g(spread / 4), g(spread)))
    for name in OTHER_COUNTRIES:
        rows.append('  { name = "%s"; expropriation = 0.0; }' % name)
    w(",\n".join(rows) + "\n);\n\n")

    w("routes = (\n")
    rows = []
    for name, cost, dis, cut, fb in ROUTES:
        s = '  { name = "%s"; cost = %s; disruption = %s; cut = %s;' % (name, g(cost), g(dis), g(cut))
        if fb is not None:
            s += " fallback_cost = %s;" % g(fb)
        rows.append(s + " }")
    w(",\n".join(rows) + "\n);\n\n")

    w("minerals = (\n")
    rows = []
    for (name, unit, p0, model, sigma, jumps, dominant, expfrac, controls, producers,
         _, _) in MINERALS:
        s = '  { name = "%s"; unit = "%s";\n    price = { model = "%s"; p0 = %s; ' % (
            name, unit, model, g(p0))
        if model == "ou":
            s += "long_run = %s; kappa = 0.13; sigma = %s;" % (g(p0), g(sigma))
        else:
            s += "mu = 0.0; sigma = %s;" % g(sigma)
        if jumps is not None:
            s += "\n      jumps = { rate = %s; mean = %s; sd = %s; };" % tuple(g(v) for v in jumps)
        s += " };\n"
        if controls is not None:
            s += ("    controls = { p_start = %s; p_end = %s; price_multiplier = %s; "
                  "export_cut = %s; };\n" % tuple(g(v) for v in controls))
        s += '    market = { dominant = "%s"; export_fraction = %s;\n      producers = (\n' % (
            dominant, g(expfrac))
        prows = []
        for country, out0, gmean in producers:
            prows.append('        { country = "%s"; output0 = %s;\n          growth = { dist = '
                         '"normal"; mean = %s; sd = 0.01; min = %s; max = %s; }; }' % (
                             country, g(out0), g(gmean), g(gmean - 0.05), g(gmean + 0.05)))
        s += ",\n".join(prows) + "\n      ); };\n  }"
        rows.append(s)
    w(",\n".join(rows) + "\n);\n\n")

    w("correlations = (\n")
    w(",\n".join('  { between = [ "%s", "%s" ]; rho = %s; }' % (a, b, g(r))
                 for a, b, r in CORRELATIONS) + "\n);\n\n")

    w("projects = (\n")
    rows = []
    for i in range(100):
        (mname, _, p0, _, _, _, dominant, _, _, _, cap0, cost_frac) = MINERALS[i % 20]
        ci = rng.index(len(PROJECT_COUNTRIES))
        cname, _, royalty, tax, erp, crate = PROJECT_COUNTRIES[ci]
        pname = "p%03d_%s_%s" % (i + 1, cname[:2].lower(), mname)
        route_i = rng.index(len(ROUTES) + 1)  # the last index: no route
        start = rng.index(21)                 # building from 2026 .. 2046
        plan = 2 + rng.index(4)               # planned build years 2..5
        life = 15 + rng.index(16)             # 15..30 years
        capacity = cap0 * rng.between(0.5, 1.5)
        opex = cost_frac * p0 * rng.between(0.85, 1.15)
        # Budget: 3 to 4.5 years of base-case after-tax EBITDA at full output,
        # so that the mean project IRR, after overruns, delays, ramp-up and
        # transport, lies around 10-25 % (central_asia.cfg's projects: 8-27 %).
        ebitda = capacity * (p0 * (1.0 - royalty) - opex) / 1e6
        budget = max(1.0, ebitda * (1.0 - 0.5 * tax) * rng.between(3.0, 4.5))
        util_a, util_b = (17.0, 3.0) if cname in ("Kyrgyzstan", "Tajikistan") else (18.0, 2.0)
        equity = 0.30 + 0.05 * rng.index(3)   # 0.30, 0.35, 0.40
        debt = 1.0 - equity
        kind = rng.index(3)                   # 0 commercial only, 1 + dfc, 2 + bri
        dfc = round(0.5 * debt, 4) if kind == 1 else 0.0
        bri = round(0.5 * debt, 4) if kind == 2 else 0.0
        commercial = round(debt - dfc - bri, 4)
        s = '  { name = "%s"; country = "%s"; mineral = "%s";' % (pname, cname, mname)
        # bulk ores (below 2,000 USD per unit) go to smelters nearby: no route
        if route_i < len(ROUTES) and p0 >= 2000.0:
            s += ' route = "%s";' % ROUTES[route_i][0]
        s += "\n    start = %d;\n" % start
        s += '    capex = { dist = "lognormal"; mean = %s; sd = %s; };\n' % (
            g(1.4 * budget), g(0.5 * budget))
        s += ('    build_years = { dist = "discrete"; values = [ %d, %d, %d ]; '
              'weights = [ 0.5, 0.35, 0.15 ]; };\n' % (plan, plan + 1, plan + 2))
        s += '    capacity = { dist = "triangular"; min = %s; mode = %s; max = %s; };\n' % (
            g(0.8 * capacity), g(capacity), g(1.05 * capacity))
        s += "    ramp_up = [ 0.4, 0.7, 0.9 ];\n    life = %d;\n" % life
        s += '    utilization = { dist = "beta"; a = %s; b = %s; };\n' % (g(util_a), g(util_b))
        s += ('    opex = { dist = "normal"; mean = %s; sd = %s; min = %s; max = %s; };\n' % (
            g(opex), g(0.12 * opex), g(0.6 * opex), g(1.6 * opex)))
        s += "    royalty = %s; tax = %s; depreciation_years = 10;\n" % (g(royalty), g(tax))
        s += "    equity_discount_rate = %s;\n" % g(0.084 + erp)
        s += "    financing = (\n"
        s += '      { name = "equity"; type = "equity"; share = %s; },\n' % g(equity)
        s += ('      { name = "commercial"; type = "debt"; share = %s; rate = %s; tenor = 7; '
              'grace = 1; amortisation = "annuity"; },\n' % (g(commercial), g(crate)))
        s += ('      { name = "dfc"; type = "debt"; share = %s; rate = 0.035; tenor = %d; '
              'grace = 3; amortisation = "annuity"; },\n' % (g(dfc), max(5, min(20, life - 5))))
        s += ('      { name = "bri"; type = "debt"; share = %s; rate = 0.042; tenor = 9; '
              'grace = 1; amortisation = "linear"; }\n' % g(bri))
        s += "    ); }"
        rows.append(s)
    w(",\n".join(rows) + "\n);\n")
    return out.getvalue()


# ---------------------------------------------------------------------------
# (c) the 50-point sweep on scenarios/example.cfg

EXAMPLE_PROJECTS = ["kz_cu", "uz_cu", "tj_sb"]


def sweep_text():
    src = os.path.join(ROOT, "scenarios", "example.cfg")
    with open(src, "rb") as f:
        raw = f.read()
    body = raw.decode("utf-8")
    if "\nbatch = {" in body or body.count('\nname = "example";') != 1:
        raise SystemExit("gen_workloads: scenarios/example.cfg changed shape "
                         "(a batch group, or not one top-level name)")
    body = body.replace('\nname = "example";', '\nname = "sweep50";', 1)
    out = io.StringIO()
    w = out.write
    w("# bench/sweep50.cfg - GENERATED by bench/gen_workloads.py; do not edit by hand.\n")
    w("# Benchmark workload (c): scenarios/example.cfg\n"
      "# (sha256 %s)\n" % hashlib.sha256(raw).hexdigest())
    w("# renamed, with a 50-point royalty sweep added at the end (51 scenarios: the\n"
      "# reference and 50 sweep points).  Comments below are the source's.\n#\n")
    w(body)
    w("\n# ---------------------------------------------------------------------------\n")
    w("# The benchmark's batch: the royalty of every project, 0.002 to 0.100 in steps\n"
      "# of 0.002 (50 values).\n")
    w('batch = {\n  reference = "sweep50";\n  sweeps = (\n    { name = "royalty";\n'
      '      description = "royalty of every project, 50 points from 0.002 to 0.1";\n'
      "      parameters = (\n")
    w("        { paths = [ %s ];\n" % ", ".join(
        '"projects.%s.royalty"' % p for p in EXAMPLE_PROJECTS))
    w("          start = 0.002; stop = 0.1; step = 0.002; }\n")
    w("      ); }\n  );\n};\n")
    return out.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed files; exit 1 when they differ")
    ap.add_argument("--outdir", default=HERE, help="where to write (default: bench/)")
    a = ap.parse_args()
    files = {"portfolio.cfg": portfolio_text(), "sweep50.cfg": sweep_text()}
    bad = 0
    for name, text in files.items():
        path = os.path.join(HERE if a.check else a.outdir, name)
        if a.check:
            try:
                with open(path, encoding="utf-8") as f:
                    same = f.read() == text
            except OSError:
                same = False
            print("%s: %s" % (name, "up to date" if same else "DIFFERS from the generator"))
            bad |= not same
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("wrote %s" % path)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

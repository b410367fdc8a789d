#!/usr/bin/env python3
"""bench.py - cmsim's benchmarks: speed, thread scaling, the draw floor,
memory and instructions per path, against the NumPy peer.

    bash bench/run.sh [BUILD_DIR] [options]      # what `make bench` runs
    python3 bench/bench.py --build build-bench [--quick] [--reps N] ...

Writes bench/results/<date>-<host>.md and .csv and prints the same tables.
Every figure is measured inside one run and reported as a ratio where it can
be (engine / draw floor, peer / engine, speed-up over one thread), because
the machines this runs on are shared and noisy: each timing is repeated
(--reps, default 5), the repetitions interleave all programs (rep 1 of
everything, then rep 2, ...) so that drift hits them alike, and both the
minimum and the median are reported.  Ratios use medians; the minimum
(the run least disturbed by other processes) is shown beside it.

What is timed:
  engine   cmsim's own wall_seconds from run.json (cm_run_execute only: no
           loading, no report writing), at 1..nproc threads;
  floor    bench/drawfloor.c's loop at one thread: the same draws as the
           engine, nothing else (see its header);
  peer     end-to-end process time of bench/peer/cmsim_peer.py and of cmsim
           at one thread on the same scenario and paths (both load, simulate,
           summarise and write a CSV), and the marginal time per path, from
           the difference with a 16-path run of each, which removes start-up
           costs (Python and NumPy import, parsing) from both;
  memory   peak RSS of a child process (wait4 in bench/rusage.c, which
           starts every command: see run() for why not from here);
  instructions per path: `perf stat -e instructions` where the machine has
           hardware counters, else callgrind on small runs restricted to
           cm_run_execute (engine) and the floor loop (floor), both from the
           difference between N and 2N paths so that per-run set-up cancels.

Nothing here changes the engine or the peer; results go to bench/results/.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER = os.path.join(HERE, "peer", "cmsim_peer.py")
PEER_PYTHON = "/usr/bin/python3"   # Debian's, with python3-numpy and python3-libconf
BLOCK = 1024                       # CM_BLOCK_PATHS (include/cmsim/driver.h)
PEER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1"}
SMALL = 16                         # paths of the start-up runs (marginal per-path cost)
PEER_PATHS = 8192                  # at most this many paths (x --scale) for the peer: it keeps
                                   # every value (the portfolio at 65,536 paths would need ~6 GB)


# ---------------------------------------------------------------------------
# Workloads.  paths: the default on a 2-core machine; raised to one block per
# thread at the largest thread count on bigger machines, times --scale.

WORKLOADS = [
    {"key": "a", "title": "central_asia batch",
     "file": "scenarios/central_asia.cfg", "scenario": None, "paths": 2048,
     "peer": False, "cg_paths": 32,
     "what": "(a) the default Central Asia batch, every scenario (reference, 5 variants, "
             "6 sweep points)"},
    {"key": "a-ref", "title": "central_asia reference",
     "file": "scenarios/central_asia.cfg", "scenario": "commercial", "paths": 8192,
     "peer": True, "cg_paths": 512,
     "what": "(a) its reference scenario alone (--scenario commercial): what the peer "
             "simulates"},
    {"key": "b", "title": "portfolio 100x20x50",
     "file": "bench/portfolio.cfg", "scenario": None, "paths": 2048,
     "peer": True, "cg_paths": 64,
     "what": "(b) 100 projects, 20 minerals, 50 years (generated: bench/gen_workloads.py)"},
    {"key": "c", "title": "sweep50",
     "file": "bench/sweep50.cfg", "scenario": None, "paths": 2048,
     "peer": False, "cg_paths": 32,
     "what": "(c) example.cfg with a 50-point royalty sweep: 51 scenarios"},
]
RSS_FILE = "scenarios/example.cfg"


T0 = time.time()


def log(msg):
    sys.stderr.write("bench: [%4.0f s] %s\n" % (time.time() - T0, msg))
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# Running children

class Result:
    def __init__(self, rc, wall, cpu, maxrss_kb, out, err):
        self.rc, self.wall, self.cpu, self.maxrss_kb = rc, wall, cpu, maxrss_kb
        self.out, self.err = out, err


RUSAGE = None   # build/bench/cmsim_rusage, when built: see run()


def run(cmd, env=None):
    """Run cmd from the source root; wall time, CPU time (user + system) and
    peak RSS (KB) of this command alone, stdout and stderr.

    The command is started through cmsim_rusage (bench/rusage.c) when it is
    built: Linux keeps a process's peak RSS across exec, so a child forked
    by this (large) Python process would report at least the harness's own
    peak; forked by the small helper, it reports its own."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    res_file = None
    if RUSAGE:
        fd, res_file = tempfile.mkstemp(prefix="cmsim-rusage-")
        os.close(fd)
        cmd = [RUSAGE, res_file] + list(cmd)
    try:
        with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=fo, stderr=fe)
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
            p.returncode = os.waitstatus_to_exitcode(status)
            fo.seek(0)
            fe.seek(0)
            out = fo.read().decode("utf-8", "replace")
            err = fe.read().decode("utf-8", "replace")
        maxrss, cpu = ru.ru_maxrss, ru.ru_utime + ru.ru_stime
        if res_file:
            with open(res_file, encoding="utf-8") as f:
                fields = f.read().split()
            if len(fields) == 4:
                maxrss = int(fields[0])
                cpu = float(fields[1]) + float(fields[2])
                wall = float(fields[3])
    finally:
        if res_file:
            os.unlink(res_file)
    return Result(p.returncode, wall, cpu, maxrss, out, err)


def must(res, what):
    if res.rc != 0:
        sys.stderr.write(res.out[-2000:] + res.err[-4000:])
        raise SystemExit("bench: %s failed (exit status %d)" % (what, res.rc))
    return res


class Bench:
    def __init__(self, a):
        self.a = a
        self.build = os.path.abspath(os.path.join(ROOT, a.build))
        self.cmsim = os.path.join(self.build, "cmsim")
        self.floor = os.path.join(self.build, "bench", "cmsim_drawfloor")
        global RUSAGE
        RUSAGE = os.path.join(self.build, "bench", "cmsim_rusage")
        for exe in (self.cmsim, self.floor, RUSAGE):
            if not os.access(exe, os.X_OK):
                raise SystemExit("bench: %s is missing: build with -DCMSIM_BUILD_BENCH=ON "
                                 "(make bench does)" % exe)
        self.tmp = tempfile.mkdtemp(prefix="cmsim-bench-")
        self.nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
        t, self.threads = 1, []
        while t < self.nproc:
            self.threads.append(t)
            t *= 2
        self.threads.append(self.nproc)
        self.rows = []       # CSV rows
        self.check_failed = False
        self.notes = []
        self.peer_ok = self.check_peer()

    # -- programs -------------------------------------------------------------

    def cmsim_run(self, w, paths, threads, extra=(), prefix=None, out=None):
        out = out or os.path.join(self.tmp, "out")
        cmd = (prefix or []) + [self.cmsim, "run", w["file"], "--paths", str(paths),
                                "--threads", str(threads), "--out", out, "--quiet", "--force"]
        if w.get("scenario"):
            cmd += ["--scenario", w["scenario"]]
        cmd += list(extra)
        res = must(run(cmd), "cmsim run %s" % w["file"])
        if prefix is None:
            with open(os.path.join(out, "run.json"), encoding="utf-8") as f:
                j = json.load(f)
            res.engine = float(j["wall_seconds"])
            res.nscen = len(j["scenarios"])
        return res

    def floor_run(self, w, paths, extra=(), prefix=None):
        cmd = (prefix or []) + [self.floor, w["file"], "--paths", str(paths)]
        if w.get("scenario"):
            cmd += ["--scenario", w["scenario"]]
        cmd += list(extra)
        res = must(run(cmd), "cmsim_drawfloor %s" % w["file"])
        if prefix is None:
            res.j = json.loads(res.out.strip().splitlines()[-1])
        return res

    def peer_run(self, w, paths):
        cmd = [PEER_PYTHON, PEER, "run", w["file"], "--paths", str(paths),
               "--out", os.path.join(self.tmp, "peer.csv")]
        return must(run(cmd, env=PEER_ENV), "peer on %s" % w["file"])

    def check_peer(self):
        if not os.access(PEER_PYTHON, os.X_OK):
            self.notes.append("The peer was not run: %s is missing." % PEER_PYTHON)
            return False
        r = run([PEER_PYTHON, "-c", "import numpy, libconf"])
        if r.rc != 0:
            self.notes.append("The peer was not run: %s lacks numpy or libconf "
                              "(apt-get install python3-numpy python3-libconf)." % PEER_PYTHON)
            return False
        return True

    # -- the phases -----------------------------------------------------------

    def paths_of(self, w):
        # at least a.blocks_per_thread blocks for each thread of the largest
        # count: with one block each, the per-thread set-up and the final
        # merge, fixed costs, would be measured as poor scaling
        p = max(w["paths"], a_blocks(self.a) * BLOCK * self.threads[-1])
        p = int(p * self.a.scale)
        return max(BLOCK, (p + BLOCK - 1) // BLOCK * BLOCK)

    def workloads_fresh(self):
        gen = os.path.join(HERE, "gen_workloads.py")
        r = run([sys.executable, gen, "--check"])
        if r.rc != 0:
            self.notes.append("bench/gen_workloads.py --check: the committed workloads differ "
                              "from what the generator writes now (%s); the committed files "
                              "were used." % " ".join(r.out.split()))
        return r.rc == 0

    def floor_check(self, w, paths=256):
        """The floor draws what the engine draws: its recorded draws, turned into
        capex, first output year, output total, expropriation (per path) and
        mean price and restricted share (per year), must equal cmsim's
        --dump-paths and summary.csv for the reference scenario."""
        prefix = os.path.join(self.tmp, "floorcheck")
        dump = os.path.join(self.tmp, "dump.csv")
        self.floor_run(w, paths, extra=["--check", prefix])
        self.cmsim_run(w, paths, self.threads[-1], extra=["--dump-paths", dump])
        with open(prefix + ".paths.csv", encoding="utf-8") as f:
            mine = list(csv.DictReader(f))
        ref = mine[0]["scenario"]
        with open(dump, encoding="utf-8") as f:
            theirs = [r for r in csv.DictReader(f) if r["scenario"] == ref]
        checked = bad = 0
        first_bad = None
        if len(mine) != len(theirs):
            return 0, 1, "%d paths against cmsim's %d" % (len(mine), len(theirs))

        def differ(x, y, rel):
            if x == y:
                return False
            if not x or not y:
                return True
            fx, fy = float(x), float(y)
            return abs(fx - fy) > rel * max(1.0, abs(fy))

        for a, b in zip(mine, theirs):
            for k, v in a.items():
                if k == "scenario":
                    continue
                checked += 1
                if k not in b or differ(v, b[k], 1e-12):
                    bad += 1
                    first_bad = first_bad or "path %s %s: floor %s, cmsim %s" % (
                        a["path"], k, v, b.get(k))
        with open(os.path.join(self.tmp, "out", "summary.csv"), encoding="utf-8") as f:
            summ = {(r["outcome"], r["entity"], r["year"]): r["mean"]
                    for r in csv.DictReader(f) if r["scenario"] == ref}
        with open(prefix + ".years.csv", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                for outcome, col in (("price", "price_mean"), ("restricted", "restricted_mean")):
                    if not r[col]:
                        continue
                    checked += 1
                    key = (outcome, r["mineral"], r["year"])
                    if key not in summ or differ(r[col], summ[key], 1e-9):
                        bad += 1
                        first_bad = first_bad or "%s %s %s: floor %s, cmsim %s" % (
                            outcome, r["mineral"], r["year"], r[col], summ.get(key))
        return checked, bad, first_bad

    def instructions(self, workloads):
        """Instructions per path-scenario of the engine and the floor."""
        res = {}
        perf = shutil.which("perf")
        use_perf = False
        if perf:
            r = run([perf, "stat", "-x,", "-e", "instructions", "true"])
            use_perf = r.rc == 0 and re.search(r"^\d+,", r.err, re.M) is not None
        valgrind = shutil.which("valgrind")
        if not use_perf and not valgrind:
            self.notes.append("No instruction counts: `perf stat -e instructions` is not "
                              "supported here and valgrind is missing.")
            return res, None
        method = "perf stat" if use_perf else "callgrind"
        if not use_perf:
            self.notes.append("`perf stat -e instructions true` reports <not supported> on "
                              "this machine (no hardware counters in the VM): instructions "
                              "per path come from callgrind (valgrind --tool=callgrind "
                              "--toggle-collect=cm_run_execute for the engine, "
                              "--toggle-collect=floor_loop for the floor), 1 thread, "
                              "difference between N and 2N paths (N = 32 to 512, within one "
                              "block: the per-block merge, 0.2 % of a block's instructions "
                              "in sweep50, is left out; the quantile sketches still widen "
                              "often in the first paths, which makes small N overstate the "
                              "steady state a little: 948k instructions per path for a-ref "
                              "at N = 128, 904k at N = 512).")
        for w in workloads:
            n = max(8, int(w["cg_paths"] * self.a.cg_scale))
            counts = {}
            for prog in ("engine", "floor"):
                vals = [self.count(prog, w, paths, use_perf, perf, valgrind)
                        for paths in (n, 2 * n)]
                counts[prog] = (vals[1][0] - vals[0][0]) / n
                if vals[0][1] is not None:
                    counts[prog + "_addresses"] = (vals[1][1] - vals[0][1]) / n
            if not use_perf:
                counts["profile"] = callgrind_top(
                    os.path.join(self.tmp, "cg-%s-engine-%d.out" % (w["key"], 2 * n)))
            res[w["key"]] = counts
            log("instructions %s: engine %.3g, floor %.3g per path" % (
                w["key"], counts["engine"], counts["floor"]))
        return res, method

    def count(self, prog, w, paths, use_perf, perf, valgrind):
        if use_perf:
            prefix = [perf, "stat", "-x,", "-e", "instructions", "--"]
        else:
            cg = os.path.join(self.tmp, "cg-%s-%s-%d.out" % (w["key"], prog, paths))
            toggle = "cm_run_execute" if prog == "engine" else "floor_loop*"
            prefix = [valgrind, "--tool=callgrind", "--callgrind-out-file=" + cg,
                      "--collect-atstart=no", "--toggle-collect=" + toggle]
        if prog == "engine":
            # --part 1/1 writes the binary state instead of the report: the
            # same simulation, without minutes of report formatting under
            # valgrind (outside cm_run_execute, so not counted either way).
            r = self.cmsim_run(w, paths, 1, prefix=prefix, extra=["--part", "1/1"],
                               out=os.path.join(self.tmp, "run.cmpart"))
        else:
            r = self.floor_run(w, paths, prefix=prefix)
        if use_perf:
            m = re.search(r"^(\d+),[^,]*,instructions", r.err, re.M)
            if not m:
                raise SystemExit("bench: cannot read perf stat's output:\n" + r.err[-1000:])
            return float(m.group(1)), None
        return callgrind_counts(cg)

    def massif(self, w, paths):
        """Peak heap of one run and its largest allocation sites (massif)."""
        valgrind = shutil.which("valgrind")
        if not valgrind:
            return None
        out = os.path.join(self.tmp, "massif.out")
        self.cmsim_run(w, paths, 1, prefix=[valgrind, "--tool=massif",
                                            "--massif-out-file=" + out])
        log("massif of %s at %d paths done" % (w["file"], paths))
        return massif_peak(out)

    def profile(self, w, paths):
        """Where the process's time goes at 1 thread: perf record (cpu-clock, a
        software event, works in VMs) self time by function, top 8.  The
        whole process: loading and the report are in it too."""
        perf = shutil.which("perf")
        if not perf:
            return None
        data = os.path.join(self.tmp, "perf.data")
        r = run([perf, "record", "-q", "-e", "cpu-clock", "-o", data, "--", self.cmsim, "run",
                 w["file"], "--paths", str(paths), "--threads", "1", "--out",
                 os.path.join(self.tmp, "out"), "--quiet", "--force"] +
                (["--scenario", w["scenario"]] if w.get("scenario") else []))
        if r.rc != 0:
            return None
        r = run([perf, "report", "-i", data, "--no-children", "--stdio", "--sort", "symbol",
                 "--percent-limit", "1"])
        top = []
        for line in r.out.splitlines():
            m = re.match(r"\s+([\d.]+)%\s+\[[.k]\]\s+(\S+)", line)
            if m:
                top.append((float(m.group(1)), m.group(2)))
        return top[:8] or None

    # -- the run --------------------------------------------------------------

    def main(self):
        a = self.a
        t_start = time.time()
        load0 = os.getloadavg()
        self.revision = git_revision()   # the tree that was just built
        workloads = [w for w in WORKLOADS if not a.only or w["key"] in a.only.split(",")]
        for w in workloads:
            w["n"] = self.paths_of(w)
            w["n_peer"] = min(w["n"], max(BLOCK, int(PEER_PATHS * a.scale)))
        log("%d cores; threads %s; %d repetitions; paths: %s" % (
            self.nproc, self.threads, a.reps,
            ", ".join("%s %d" % (w["key"], w["n"]) for w in workloads)))
        fresh = self.workloads_fresh()

        # 1. The floor draws what the engine draws.
        checks = {}
        for w in workloads:
            checks[w["key"]] = self.floor_check(w)
            c, b, first = checks[w["key"]]
            self.check_failed |= b > 0
            log("floor check %s: %d values, %d differ%s" % (
                w["key"], c, b, "" if not b else " (first: %s)" % first))

        # 2. Timings, interleaved.
        eng = {(w["key"], t): [] for w in workloads for t in self.threads}
        e2e = {w["key"]: [] for w in workloads}
        rss = {(w["key"], t): 0 for w in workloads for t in self.threads}
        share = {(w["key"], t): [] for w in workloads for t in self.threads}
        flo = {w["key"]: [] for w in workloads}
        floe = {w["key"]: [] for w in workloads}
        peer = {w["key"]: {"peer": [], "peer_small": [], "cmsim_small": [], "cmsim": []}
                for w in workloads}
        meta = {}
        for rep in range(a.reps):
            for w in workloads:
                k = w["key"]
                for t in self.threads:
                    r = self.cmsim_run(w, w["n"], t)
                    eng[(k, t)].append(r.engine)
                    rss[(k, t)] = max(rss[(k, t)], r.maxrss_kb)
                    share[(k, t)].append(r.cpu / (r.wall * t))
                    meta[k] = r.nscen
                    if t == 1:
                        e2e[k].append(r.wall)
                r = self.floor_run(w, w["n"])
                flo[k].append(r.j["seconds"])
                w["addresses"] = r.j["addresses_per_path"]
                if meta[k] > 1: # a batch: also every scenario drawing its own numbers
                    r = self.floor_run(w, w["n"], extra=["--each"])
                    floe[k].append(r.j["seconds"])
                    w["addresses_each"] = r.j["addresses_per_path"]
                if w["peer"] and self.peer_ok:
                    peer[k]["peer"].append(self.peer_run(w, w["n_peer"]).wall)
                    if w["n_peer"] != w["n"]: # else the one-thread run above serves
                        peer[k]["cmsim"].append(self.cmsim_run(w, w["n_peer"], 1).wall)
                    peer[k]["peer_small"].append(self.peer_run(w, SMALL).wall)
                    peer[k]["cmsim_small"].append(self.cmsim_run(w, SMALL, 1).wall)
            log("repetition %d of %d done (%.0f s)" % (rep + 1, a.reps, time.time() - t_start))

        # 3. Memory at 1e5 and 1e7 paths.
        mem = []
        wr = {"file": RSS_FILE, "scenario": None}
        for paths in (a.rss_small, a.rss_large):
            r = self.cmsim_run(wr, paths, self.nproc)
            mem.append((paths, self.nproc, r.maxrss_kb, r.engine))
            log("peak RSS %s at %d paths: %.1f MB (%.1f s)" % (RSS_FILE, paths,
                                                               r.maxrss_kb / 1024, r.engine))

        # 3b. Where the memory goes, when it grows with the paths.
        heap = None
        if len(mem) == 2 and mem[1][2] > 1.10 * mem[0][2] and not a.no_profile:
            heap = self.massif(wr, a.rss_small)

        # 4. Instructions per path, and where the time goes.
        instr, method = ({}, None) if a.no_instructions else self.instructions(workloads)
        profiles = {}
        if not a.no_profile:
            for w in workloads:
                profiles[w["key"]] = self.profile(w, max(BLOCK, w["n"] // 2))

        load1 = os.getloadavg()
        self.report(workloads, checks, eng, e2e, rss, share, flo, floe, peer, meta, mem, heap,
                    instr, method, profiles, fresh, load0, load1, time.time() - t_start)
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.check_failed:
            log("the draw-floor check FAILED: bench/drawfloor.c no longer draws what "
                "engine/model.c draws (see the results); its figures are wrong")
            return 1
        return 0

    # -- results --------------------------------------------------------------

    def report(self, workloads, checks, eng, e2e, rss, share, flo, floe, peer, meta, mem, heap,
               instr, method, profiles, fresh, load0, load1, elapsed):
        a = self.a
        med = statistics.median
        md = []
        P = md.append
        now = datetime.datetime.now()
        host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname().split(".")[0]) or "host"
        model, cores = machine()
        rev, dirty = self.revision
        targets = []

        P("# cmsim benchmark results, %s, %s" % (now.strftime("%Y-%m-%d %H:%M"), host))
        P("")
        P("- Machine: %s, %s; %d cores used (`nproc`); %s" % (
            model, cores, self.nproc, memory_total()))
        P("- System: %s %s; compiler: %s; build: %s (%s)" % (
            platform.system(), platform.release(), compiler(self.build),
            cmake_value(self.build, "CMAKE_BUILD_TYPE"), build_flags(self.build)))
        P("- Engine: git %s%s" % (rev, " with uncommitted changes in engine/ or include/"
                                  if dirty else ""))
        P("- Command: `%s`" % a.command)
        P("- Repetitions: %d per timing, interleaved; min and median shown; ratios and "
          "targets from the minima (the runs least disturbed by other processes), the "
          "median-based ratio beside them; load average (1 min) %.2f at the start, %.2f at "
          "the end; %.0f s in all" % (a.reps, load0[0], load1[0], elapsed))
        P("")
        nhead = len(md)

        # Throughput table
        P("## Throughput at one thread, and the draw floor")
        P("")
        P("| workload | scenarios | paths | engine s (min / median) | path-scenarios per s "
          "per core | draw floor s (min / median) | engine / floor | draws per path "
          "| instructions per path-scenario: engine / floor (ratio) |")
        P("|---|---|---|---|---|---|---|---|---|")
        for w in workloads:
            k, S, N = w["key"], meta[w["key"]], w["n"]
            e1 = eng[(k, 1)]
            ratio = min(e1) / min(flo[k])
            ins = instr.get(k)
            ins_txt = "%.3g / %.3g (%.1fx)" % (ins["engine"] / S, ins["floor"] / S,
                                               ins["engine"] / ins["floor"]) if ins else "-"
            P("| %s | %d | %d | %.3f / %.3f | %s | %.4f / %.4f | %.1fx (median %.1fx) | %.0f "
              "| %s |" % (w["title"], S, N, min(e1), med(e1), fmt_int(N * S / min(e1)),
                          min(flo[k]), med(flo[k]), ratio, med(e1) / med(flo[k]),
                          w["addresses"], ins_txt))
            self.csvrow(k, "engine_seconds", 1, N, e1, "s")
            self.csvrow(k, "path_scenarios_per_second_per_core", 1, N,
                        [N * S / x for x in e1], "1/s")
            self.csvrow(k, "floor_seconds", 1, N, flo[k], "s")
            self.csvrow(k, "engine_over_floor", 1, N, [ratio], "x")
            if ins:
                self.csvrow(k, "instructions_per_path_scenario_engine", 1, 0,
                            [ins["engine"] / S], method)
                self.csvrow(k, "instructions_per_path_scenario_floor", 1, 0,
                            [ins["floor"] / S], method)
            targets.append(("engine time <= 3x the draw floor", w["title"],
                            "%.1fx (median %.1fx%s)" % (ratio, med(e1) / med(flo[k]),
                                                        ", instructions %.1fx" % (
                                                            ins["engine"] / ins["floor"])
                                                        if ins else ""),
                            ratio <= 3.0))
        each = [w for w in workloads if floe[w["key"]]]
        if each:
            P("")
            P("Batches, with the floor counted per path-scenario (`cmsim_drawfloor --each`: "
              "every scenario draws all its numbers, as if it ran alone):")
            P("")
            P("| workload | scenarios | paths | engine s (min) | floor, every scenario drawing "
              "s (min / median) | draws per path | engine / floor |")
            P("|---|---|---|---|---|---|---|")
            for w in each:
                k, S, N = w["key"], meta[w["key"]], w["n"]
                e1 = eng[(k, 1)]
                ratio_e = min(e1) / min(floe[k])
                P("| %s | %d | %d | %.3f | %.4f / %.4f | %.0f | %.1fx (median %.1fx) |" % (
                    w["title"], S, N, min(e1), min(floe[k]), med(floe[k]),
                    w["addresses_each"], ratio_e, med(e1) / med(floe[k])))
                self.csvrow(k, "floor_each_seconds", 1, N, floe[k], "s")
                self.csvrow(k, "engine_over_floor_each", 1, N, [ratio_e], "x")
                targets.append(("engine time <= 3x the draw floor, counted per "
                                "path-scenario", w["title"],
                                "%.1fx (median %.1fx)" % (ratio_e, med(e1) / med(floe[k])),
                                ratio_e <= 3.0))
        P("")
        P("path-scenarios per second per core: paths x scenarios / engine seconds (min) at "
          "one thread.  engine / floor: the engine's time as a multiple of the time to draw "
          "its random numbers alone; draws per path: cm_stream_at calls (each followed by one "
          "sampler call) per path, all scenarios together (variants of a batch copy what "
          "they share with the reference instead of drawing it, so the batches' floor "
          "holds each shared number once; the second table counts it once per "
          "scenario that uses it).%s" % (
              "  Instructions: %s, per path and scenario." % method if method else ""))
        P("")

        # Scaling
        P("## Thread scaling (engine wall time)")
        P("")
        P("| workload | threads | engine s (min / median) | speed-up | efficiency | "
          "path-scenarios per s per core | CPU share | peak RSS MB |")
        P("|---|---|---|---|---|---|---|---|")
        for w in workloads:
            k, S, N = w["key"], meta[w["key"]], w["n"]
            t1 = min(eng[(k, 1)])
            for t in self.threads:
                v = eng[(k, t)]
                sp = t1 / min(v)
                sp_med = med(eng[(k, 1)]) / med(v)
                P("| %s | %d | %.3f / %.3f | %.2f | %.0f %% (median-based %.0f %%) | %s | "
                  "%.0f %% | %.0f |" % (
                      w["title"], t, min(v), med(v), sp, 100 * sp / t, 100 * sp_med / t,
                      fmt_int(N * S / min(v) / t), 100 * med(share[(k, t)]),
                      rss[(k, t)] / 1024))
                if t > 1:
                    self.csvrow(k, "engine_seconds", t, N, v, "s")
                self.csvrow(k, "efficiency", t, N, [sp / t], "fraction")
                self.csvrow(k, "cpu_share", t, N, share[(k, t)], "fraction")
                self.csvrow(k, "peak_rss_mb", t, N, [rss[(k, t)] / 1024], "MB")
                if t == 2:
                    targets.append(("2-thread efficiency >= 90 %", w["title"],
                                    "%.0f %% (median-based %.0f %%)" % (
                                        100 * sp / 2, 100 * sp_med / 2),
                                    sp / 2 >= 0.9))
        P("")
        P("speed-up = min at 1 thread / min at T threads; efficiency = speed-up / T.  "
          "CPU share: the process's CPU time / (its wall time x T), median: below 100 %% "
          "at T = 1 or far below at T > 1, the run did not get its cores (other processes, "
          "or serial parts: loading, merging, writing the report).  "
          "Strong scaling (same paths at every T); blocks of %d paths are the unit of work, "
          "so a run of N paths has N/%d blocks to share; every workload runs at least %d "
          "blocks per thread at the largest T (--blocks-per-thread), as a run of one block "
          "per thread measures mostly its fixed costs (per-thread set-up, the final merge).  "
          "This machine has %d cores: a 16-core curve needs a bigger machine (`make bench` "
          "there measures 1, 2, 4, 8, 16)." % (BLOCK, BLOCK, a_blocks(self.a), self.nproc))
        P("")

        # Peer
        if self.peer_ok and any(w["peer"] for w in workloads):
            P("## Against the NumPy peer (one core each)")
            P("")
            P("| workload | paths | cmsim s (min / median) | peer s (min / median) | "
              "peer / cmsim, end to end | ms per path: cmsim / peer (marginal) | "
              "peer / cmsim, per path |")
            P("|---|---|---|---|---|---|---|")
            for w in workloads:
                if not w["peer"]:
                    continue
                k, N = w["key"], w["n_peer"]
                c, p = peer[k]["cmsim"] or e2e[k], peer[k]["peer"]
                cs, ps = peer[k]["cmsim_small"], peer[k]["peer_small"]
                c_m = (min(c) - min(cs)) / (N - SMALL)
                p_m = (min(p) - min(ps)) / (N - SMALL)
                r_e2e, r_m = min(p) / min(c), p_m / c_m
                r_m_med = (med(p) - med(ps)) / (med(c) - med(cs))
                P("| %s | %d | %.3f / %.3f | %.3f / %.3f | %.1fx (median %.1fx) | %.3f / %.3f "
                  "| %.1fx (median %.1fx) |" % (
                      w["title"], N, min(c), med(c), min(p), med(p), r_e2e, med(p) / med(c),
                      1e3 * c_m, 1e3 * p_m, r_m, r_m_med))
                self.csvrow(k, "cmsim_process_seconds", 1, N, c, "s")
                self.csvrow(k, "peer_process_seconds", 1, N, p, "s")
                self.csvrow(k, "cmsim_process_seconds", 1, SMALL, cs, "s")
                self.csvrow(k, "peer_process_seconds", 1, SMALL, ps, "s")
                self.csvrow(k, "peer_over_cmsim_end_to_end", 1, N, [r_e2e], "x")
                self.csvrow(k, "peer_over_cmsim_per_path", 1, N, [r_m], "x")
                targets.append(("per core >= 10x the NumPy peer", w["title"],
                                "%.1fx per path (end to end %.1fx)" % (r_m, r_e2e), r_m >= 10))
            P("")
            P("Both run one thread (%s and the like for the peer).  End to end: the whole process (load, "
              "simulate, summarise, write).  Per path: (time at N paths - time at %d paths) / "
              "(N - %d), which removes each program's start-up (Python and NumPy import, "
              "parsing the scenario); the target is judged on it.  The peer simulates only "
              "the reference scenario of a batch, hence cmsim --scenario commercial for (a)."
              % ("OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1", SMALL, SMALL))
            P("")

        # Memory
        P("## Peak memory")
        P("")
        P("| workload | paths | threads | peak RSS MB | engine s |")
        P("|---|---|---|---|---|")
        for paths, t, kb, secs in mem:
            P("| %s | %s | %d | %.1f | %.1f |" % (RSS_FILE, fmt_int(paths), t, kb / 1024, secs))
            self.csvrow("rss", "peak_rss_mb", t, paths, [kb / 1024], "MB")
        if len(mem) == 2:
            growth = mem[1][2] / mem[0][2] - 1
            targets.append(("peak RSS at %s paths within 10 %% of %s" % (
                fmt_int(mem[1][0]), fmt_int(mem[0][0])), RSS_FILE,
                "%+.1f %% (%.1f -> %.1f MB)" % (100 * growth, mem[0][2] / 1024,
                                               mem[1][2] / 1024), abs(growth) <= 0.10))
        P("")
        P("Peak resident set of the cmsim process (wait4 in cmsim_rusage, bench/rusage.c), "
          "streaming quantiles (the default).  Peak RSS of every timed run is in the scaling table.")
        P("")
        if heap:
            P("Memory grows with the paths: the peak heap of the %s-path run (valgrind "
              "--tool=massif, one thread) is %.1f MB, by allocation site (with the callers of "
              "each site):" % (fmt_int(a.rss_small), heap[0] / 1048576))
            P("")
            for bytes_, name, callers in heap[1]:
                P("- %s %.0f %% (%.1f MB)%s" % (
                    name, 100 * bytes_ / heap[0], bytes_ / 1048576,
                    ": " + ", ".join("from %s %.0f %%" % (c, 100 * b / heap[0])
                                     for b, c in callers if b >= 0.01 * heap[0])
                    if callers else ""))
            P("")

        # Floor check
        P("## Draw-floor check")
        P("")
        for w in workloads:
            c, b, first = checks[w["key"]]
            P("- %s: %d values compared, %s" % (
                w["title"], c, "all equal" if b == 0 else "%d DIFFER (first: %s)" % (b, first)))
        if any("engine_addresses" in instr.get(w["key"], {}) for w in workloads):
            P("")
        for w in workloads:
            ins = instr.get(w["key"], {})
            if "engine_addresses" in ins:
                e_a, f_a = ins["engine_addresses"], ins["floor_addresses"]
                P("- %s: cm_stream_at calls per path (all scenarios), engine %.2f, floor %.2f: "
                  "%s" % (w["title"], e_a, f_a, "equal" if abs(e_a - f_a) < 1e-9 else
                          "DIFFER"))
                self.check_failed |= abs(e_a - f_a) >= 1e-9
        P("")
        P("cmsim_drawfloor --check records the draws of the reference scenario and recomputes "
          "from them each path's capex, first output year, output total and expropriation and "
          "each year's mean price and restricted share; they must equal cmsim's --dump-paths "
          "and summary.csv (256 paths).  The calls to cm_stream_at (one per draw), counted by "
          "callgrind in the engine's cm_run_execute and in the floor's loop, from the same "
          "N and 2N runs as the instructions, must be equal too: they also cover the "
          "variants of a batch, which draw only what they do not copy from the reference.")
        P("")

        # Profiles
        if any(ins.get("profile") for ins in instr.values()):
            P("## Where the engine's instructions go")
            P("")
            P("callgrind, inside cm_run_execute only (the engine run of 2N paths above, one "
              "thread): instructions by function (self), top 8:")
            P("")
            for w in workloads:
                top = instr.get(w["key"], {}).get("profile")
                if top:
                    P("- %s: %s" % (w["title"], ", ".join("%s %.1f %%" % (f, s)
                                                          for s, f in top)))
            P("")
        if any(profiles.values()):
            P("## Where the process's time goes")
            P("")
            P("`perf record -e cpu-clock` of `cmsim run FILE --threads 1` at half the paths "
              "above: self time by function, top 8 above 1 %, of the whole process (loading "
              "and the report included: printf and quantile functions are the report's):")
            P("")
            for w in workloads:
                top = profiles.get(w["key"])
                if top:
                    P("- %s: %s" % (w["title"], ", ".join("%s %.1f %%" % (f, s)
                                                          for s, f in top)))
            P("")

        # Targets first in the printed table: put them at the top.
        tgt = ["## Targets", "", "| target | workload | measured | met |", "|---|---|---|---|"]
        for name, wl, val, ok in targets:
            tgt.append("| %s | %s | %s | %s |" % (name, wl, val, "yes" if ok else "**no**"))
        tgt.append("")
        if not fresh or self.notes:
            tgt += ["## Notes", ""] + ["- " + n for n in self.notes] + [""]
        wl = ["## Workloads", "", "| key | file | what |", "|---|---|---|"]
        for w in workloads:
            wl.append("| %s | `%s%s` | %s |" % (
                w["key"], w["file"], " --scenario " + w["scenario"] if w["scenario"] else "",
                w["what"]))
        wl.append("")
        text = "\n".join(md[:nhead] + tgt + wl + md[nhead:]) + "\n"

        outdir = os.path.join(ROOT, a.results) if not os.path.isabs(a.results) else a.results
        os.makedirs(outdir, exist_ok=True)
        stem = os.path.join(outdir, "%s-%s" % (now.strftime("%Y-%m-%d"), host))
        with open(stem + ".md.tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(stem + ".md.tmp", stem + ".md")
        with open(stem + ".csv.tmp", "w", encoding="utf-8", newline="") as f:
            wr = csv.writer(f)
            wr.writerow(["workload", "figure", "threads", "paths", "n", "min", "median",
                         "unit"])
            wr.writerows(self.rows)
        os.replace(stem + ".csv.tmp", stem + ".csv")
        print(text)
        print("results: %s.md, %s.csv" % (os.path.relpath(stem, ROOT),
                                          os.path.relpath(stem, ROOT)))

    def csvrow(self, k, figure, threads, paths, vals, unit):
        self.rows.append([k, figure, threads, paths, len(vals), "%.6g" % min(vals),
                          "%.6g" % statistics.median(vals), unit])


# ---------------------------------------------------------------------------
# The machine

def a_blocks(a):
    return max(1, a.blocks_per_thread)


def machine():
    model, cores = platform.processor() or "unknown CPU", ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        f = dict(re.findall(r"^([^:\n]+):\s*(.*)$", out, re.M))
        model = f.get("Model name", model)
        cores = "%s socket(s) x %s core(s) x %s thread(s)%s" % (
            f.get("Socket(s)", "?"), f.get("Core(s) per socket", "?"),
            f.get("Thread(s) per core", "?"),
            (", " + f["Hypervisor vendor"] + " guest") if "Hypervisor vendor" in f else "")
    except OSError:
        pass
    return model, cores


def memory_total():
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
        return "%.1f GiB memory" % (kb / 1024 / 1024)
    except (OSError, AttributeError):
        return "memory unknown"


def git_revision():
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")   # read-only: no index refresh
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, env=env,
                             capture_output=True, text=True).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "engine", "include"],
                               cwd=ROOT, env=env, capture_output=True).returncode == 1
    except OSError:
        return "unknown", False
    return rev, dirty


def cmake_value(build, key):
    try:
        with open(os.path.join(build, "CMakeCache.txt"), encoding="utf-8") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return ""


def build_flags(build):
    bt = cmake_value(build, "CMAKE_BUILD_TYPE").upper()
    flags = (cmake_value(build, "CMAKE_C_FLAGS") + " " +
             cmake_value(build, "CMAKE_C_FLAGS_" + bt)).strip()
    return flags or "no extra flags"


def compiler(build):
    cc = cmake_value(build, "CMAKE_C_COMPILER") or "cc"
    try:
        v = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
        return v.splitlines()[0].strip()
    except (OSError, IndexError):
        return cc


def callgrind_counts(path):
    """(instructions collected, calls to cm_stream_at) from a callgrind
    output file.  Function names are compressed: "(id) name" the first time
    an id appears in an fn= or cfn= line, "(id)" afterwards; a calls= line
    counts the calls to the cfn= just above it."""
    names, callee, total, calls = {}, None, None, 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if m:
                if m.group(3):
                    names[m.group(2)] = m.group(3)
                if m.group(1) == "cfn":
                    callee = names.get(m.group(2))
                continue
            if line.startswith("calls=") and callee == "cm_stream_at":
                calls += int(line[6:].split()[0])
            elif line.startswith("totals:") or (total is None and line.startswith("summary:")):
                total = float(line.split()[1])
    if total is None:
        raise SystemExit("bench: no totals in callgrind output %s" % path)
    return total, calls


def callgrind_top(path, n=8):
    """The n functions with the most self instructions in a callgrind file,
    as (percent, name), from callgrind_annotate (shipped with valgrind)."""
    exe = shutil.which("callgrind_annotate")
    if not exe or not os.path.exists(path):
        return None
    r = run([exe, path])
    top = []
    for line in r.out.splitlines():
        m = re.match(r"\s*[\d,]+\s+\(\s*([\d.]+)%\)\s+(?:[^:\s]*:)?([^\s\[]+)", line)
        if m and "PROGRAM TOTALS" not in line:
            top.append((float(m.group(1)), m.group(2)))
    return top[:n] or None


def massif_peak(path, n=4):
    """(peak heap bytes, [(bytes, site, [(bytes, caller), ...]), ...]) from
    a massif output file: the top-level allocation sites of the peak
    snapshot's tree (one leading space) and their direct callers (two)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    try:
        i = lines.index("heap_tree=peak")
    except ValueError:
        return None
    node = re.compile(r"^( *)n\d+: (\d+) (?:0x[0-9A-Fa-f]+: )?(.*?)(?: \(in .*\))?$")
    m = node.match(lines[i + 1])
    if not m:
        return None
    total, sites = int(m.group(2)), []
    for line in lines[i + 2:]:
        m = node.match(line)
        if not m:
            break
        depth, nbytes, name = len(m.group(1)), int(m.group(2)), m.group(3)
        if depth == 1:
            sites.append((nbytes, name, []))
        elif depth == 2 and sites:
            sites[-1][2].append((nbytes, name))
    # one entry per function (massif splits a function by call instruction)
    merged = {}
    for nbytes, name, callers in sites:
        if "below massif's threshold" in name:
            continue
        b, cs = merged.get(name, (0, {}))
        for cb, cn in callers:
            cn = "elsewhere" if "below massif's threshold" in cn else cn
            cs[cn] = cs.get(cn, 0) + cb
        merged[name] = (b + nbytes, cs)
    out = [(b, name, sorted(((v, k) for k, v in cs.items()), reverse=True))
           for name, (b, cs) in merged.items()]
    return total, sorted(out, reverse=True)[:n]


def fmt_int(x):
    return "{:,.0f}".format(x)


def main():
    ap = argparse.ArgumentParser(description="cmsim benchmarks (see bench/README.md)")
    ap.add_argument("--build", default="build-bench", help="build folder (Release, with "
                    "-DCMSIM_BUILD_BENCH=ON)")
    ap.add_argument("--reps", type=int, default=5, help="repetitions of each timing (5)")
    ap.add_argument("--blocks-per-thread", type=int, default=4,
                    help="paths of every workload: at least this many blocks of %d paths "
                         "per thread at the largest thread count (4)" % BLOCK)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every path count")
    ap.add_argument("--only", default="", help="comma-separated workload keys "
                    "(a, a-ref, b, c)")
    ap.add_argument("--rss-small", type=int, default=100000, help="paths of the small "
                    "memory run (1e5)")
    ap.add_argument("--rss-large", type=int, default=10000000, help="paths of the large "
                    "memory run (1e7)")
    ap.add_argument("--cg-scale", type=float, default=1.0, help="multiply the paths of the "
                    "instruction-count runs")
    ap.add_argument("--no-instructions", action="store_true", help="skip instruction counts")
    ap.add_argument("--no-profile", action="store_true", help="skip the perf profiles")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 2 repetitions, a "
                    "quarter of the paths, 1e6 paths for the large memory run")
    ap.add_argument("--results", default="bench/results", help="where to write the results")
    ap.add_argument("--command", default=None, help="the command line to record (run.sh "
                    "passes it; default: this script's own command line)")
    a = ap.parse_args()
    if a.command is None:
        a.command = " ".join(["python3", os.path.relpath(__file__, ROOT)] + sys.argv[1:])
    if a.quick:
        a.reps = min(a.reps, 2)
        a.scale *= 0.25
        a.rss_large = min(a.rss_large, 1000000)
        a.cg_scale *= 0.5
    if a.reps < 1:
        raise SystemExit("bench: --reps must be at least 1")
    return Bench(a).main()


if __name__ == "__main__":
    sys.exit(main())

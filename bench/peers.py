"""The peer steps of bench/run (issue 12): libdeepctr beside DeepCTR-Torch and libffm, in the same
run, on the same machine and the same files. No figure from another machine is used anywhere:
every ratio is two measurements of this run, and a peer that cannot run is reported as such.

Steps (bench/run --only names):
  torch     DeepFM, `deepctr train` vs DeepCTR-Torch (../shared/peers/deepctr_torch.sh) on one
            `deepctr synth` file: batch 4096 and 256, 1 thread each, libdeepctr also at 2 threads
  kernels   DeepFM vs its sgemm bound (bench_train) at batch 4096 under the default OpenBLAS
            kernel and under OPENBLAS_CORETYPE=Haswell / SkylakeX when the CPU runs them
  fallback  `deepctr train` with OpenBLAS forced to Prescott, with DCTR_BLAS_AUTO=0 / 1, and with
            the right core type set by hand
  libffm    bench/ffm_vs_libffm.sh when present; otherwise FFM `deepctr train --format libffm` vs
            libffm's ffm-train (built by ../shared/peers/build_libffm.sh), frappe x16 and
            `deepctr synth` rows: steady-state seconds per epoch, 1 and 2 threads, peak RSS

Each step returns {"rows": [target rows], "runs": [...every measurement...], "notes": [...]}; a
target row is (target, measured, ratio, status) with status "met", "not met" or "not measured".
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SIZES = {
    "quick": dict(deepfm_rows=20000, deepfm_rows_b256=5000, test_rows=2000, rounds=1,
                  kernel_rows=20000, kernel_seconds=2, fallback_rounds=1,
                  frappe_copies=4, ffm_synth_rows=20000, ffm_synth_vocab=20000, ffm_epochs=3,
                  ffm_rounds=1),
    "full": dict(deepfm_rows=180000, deepfm_rows_b256=90000, test_rows=10000, rounds=2,
                 kernel_rows=180000, kernel_seconds=10, fallback_rounds=3,
                 frappe_copies=16, ffm_synth_rows=400000, ffm_synth_vocab=1000000, ffm_epochs=6,
                 ffm_rounds=2),
}
STEPS = ("torch", "kernels", "fallback", "libffm")

# The DeepCTR-Torch configuration of issue 12, given to both tools: emb 8, DNN 256-128 (no batch
# norm, no dropout), Adam 1e-3, DeepCTR's init std and L2 defaults, one epoch, no validation.
DEEPFM_FLAGS = ["--model", "deepfm", "--embedding-dim", "8", "--hidden", "256,128", "--no-bn",
                "--dropout", "0", "--optimizer", "adam", "--lr", "0.001", "--init-std", "0.0001",
                "--l2-embedding", "1e-5", "--l2-linear", "1e-5", "--valid-split", "0",
                "--epochs", "1", "--early-stop", "0"]
FFM_FLAGS = ["-k", "4", "-r", "0.2", "-l", "2e-5"]
TWO_THREADS_CLEARLY = 1.3  # "two threads clearly faster than one": at least this speed-up
AVX2_CORES = ("haswell", "zen")
AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")


class Ctx:
    """What every step needs: tools, sizes, directories, the machine."""

    def __init__(self, build, data_dir, tmp, quick, peers_dir):
        self.build = os.path.abspath(build)
        self.deepctr = os.path.join(self.build, "deepctr")
        self.data_dir = os.path.abspath(data_dir)
        self.tmp = tmp
        self.quick = quick
        self.size = SIZES["quick" if quick else "full"]
        self.peers = peers_dir
        self.machine = machine(self.deepctr)
        self._torch_error = None


def log(msg):
    sys.stderr.write("bench/run: %s\n" % msg)
    sys.stderr.flush()


def run(cmd, env_add=None, cwd=None):
    """Runs cmd; returns dict(exit, out, err, seconds, peak_rss_bytes). Output goes through
    files so that the child can be reaped with wait4, whose rusage is this child's alone."""
    env = dict(os.environ)
    for k, v in (env_add or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    t0 = time.time()
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        try:
            p = subprocess.Popen([str(c) for c in cmd], stdout=fo, stderr=fe, env=env, cwd=cwd)
        except OSError as e:
            return {"exit": 127, "out": "", "err": str(e), "seconds": 0, "peak_rss_bytes": None}
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    return {"exit": p.returncode, "out": out, "err": err, "seconds": round(time.time() - t0, 2),
            "peak_rss_bytes": ru.ru_maxrss * 1024}


def last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1][:200] if lines else "(no output)"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def simd_of(flags):
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"} <= flags:
        return "avx512"
    if {"avx2", "fma"} <= flags:
        return "avx2"
    return "portable"


def blas_of(deepctr, env_add=None):
    """(OpenBLAS version, core name) as `deepctr --version` reports them under env_add."""
    r = run([deepctr, "--version"], env_add)
    ver = re.search(r"OpenBLAS (\d[\w.]*)", r["out"])
    core = re.search(r"^blas kernel (\w+),", r["out"], re.M) or \
        re.search(r"\((\w+)\)\s*$", r["out"].strip())
    return (ver.group(1) if ver else "unknown", core.group(1) if core else "unknown", r["out"].strip())


def machine(deepctr):
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ver, core, text = blas_of(deepctr)
    simd = simd_of(cpu_flags())
    cap = os.environ.get("DCTR_SIMD")
    return {"cpu_model": model, "cores": os.cpu_count(), "simd": simd,
            "simd_cap": cap, "openblas_version": ver, "openblas_core": core,
            "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"), "deepctr_version": text}


def row(target, measured, ratio, ok, unit="x"):
    """One target row; ok None = not measured, ratio None = no number; unit "x" or "%"."""
    status = "not measured" if ok is None else ("met" if ok else "not met")
    return {"target": target, "measured": measured,
            "ratio": None if ratio is None else round(ratio, 3), "unit": unit, "status": status}


def fmt_sps(v):
    return "n/a" if v is None else ("%.1fk" % (v / 1e3) if v >= 1e4 else "%.0f" % v)


# ---------------------------------------------------------------- DeepFM data and runs

def deepfm_files(ctx):
    """train.csv (deepfm_rows), test.csv (test_rows after them) and the head of train.csv used at
    batch 256, all cut from one `deepctr synth` file. Reused when present."""
    s = ctx.size
    d = os.path.join(ctx.data_dir, "peers_criteo_%d" % s["deepfm_rows"])
    tr, te = os.path.join(d, "train.csv"), os.path.join(d, "test.csv")
    head = os.path.join(d, "train_head_%d.csv" % s["deepfm_rows_b256"])
    if all(os.path.exists(p) for p in (tr, te, head)):
        return tr, te, head
    os.makedirs(d, exist_ok=True)
    full = os.path.join(d, "all.csv")
    r = run([ctx.deepctr, "synth", "--rows", s["deepfm_rows"] + s["test_rows"], "--seed", "1",
             "--out", full])
    if r["exit"] != 0:
        raise RuntimeError("deepctr synth failed: " + last_line(r["err"]))
    with open(full) as f:  # synth writes no quoted newlines: one row a line
        lines = f.readlines()
    header, body = lines[0], lines[1:]
    for path, part in ((tr, body[:s["deepfm_rows"]]), (te, body[s["deepfm_rows"]:]),
                       (head, body[:s["deepfm_rows_b256"]])):
        with open(path, "w") as f:
            f.write(header)
            f.writelines(part)
    os.unlink(full)
    return tr, te, head


def dctr_deepfm(ctx, train, batch, threads, env_add=None):
    """samples/s of one `deepctr train` epoch (the epoch line: training steps only, no parsing)."""
    out = os.path.join(ctx.tmp, "deepfm.dctr")
    r = run([ctx.deepctr, "train", "--train", train, "--out", out] + DEEPFM_FLAGS +
            ["--batch-size", batch, "--threads", threads], env_add)
    m = re.search(r"^epoch 1/1 .*?([\d.]+)s\s+(\d+) rows/s", r["out"], re.M)
    res = {"tool": "libdeepctr", "batch": batch, "threads": threads, "env": env_add or {},
           "exit": r["exit"], "peak_rss_bytes": r["peak_rss_bytes"]}
    if r["exit"] != 0 or not m:
        res["error"] = last_line(r["err"] or r["out"])
    else:
        res["epoch_seconds"] = float(m.group(1))
        res["samples_per_s"] = float(m.group(2))
    return res


def torch_deepfm(ctx, train, test, batch, core):
    """DeepCTR-Torch's fit samples/s (1 thread), on the OpenBLAS kernel libdeepctr runs with."""
    res = {"tool": "deepctr-torch", "batch": batch, "threads": 1}
    script = os.path.join(ctx.peers, "deepctr_torch.sh")
    if ctx._torch_error:
        res["error"] = ctx._torch_error
        return res
    if not os.path.exists(script):
        ctx._torch_error = res["error"] = "%s missing" % script
        return res
    env = {"OPENBLAS_CORETYPE": core} if core and core != "unknown" else None
    res["env"] = env or {}
    r = run([script, "--train", train, "--test", test, "--batch", batch, "--threads", "1",
             "--emb", "8", "--hidden", "256,128", "--lr", "0.001"], env)
    m = re.search(r"^RESULT (\{.*\})\s*$", r["out"], re.M)
    if r["exit"] != 0 or not m:
        ctx._torch_error = res["error"] = "DeepCTR-Torch did not run: " + last_line(r["err"] or r["out"])
        return res
    res.update(json.loads(m.group(1)))
    res["samples_per_s"] = res["train_samples_per_s"]
    res["peak_rss_bytes"] = r["peak_rss_bytes"]
    return res


def best(runs, **kv):
    ok = [r for r in runs if all(r.get(k) == v for k, v in kv.items()) and r.get("samples_per_s")]
    return max(ok, key=lambda r: r["samples_per_s"]) if ok else None


def first_error(runs, **kv):
    for r in runs:
        if all(r.get(k) == v for k, v in kv.items()) and r.get("error"):
            return r["error"]
    return "no run"


def step_torch(ctx):
    s = ctx.size
    tr, te, head = deepfm_files(ctx)
    # both tools on the same kernels: the core libdeepctr runs with (after any fallback fix)
    core = ctx.machine["openblas_core"]
    runs = []
    for rnd in range(s["rounds"]):  # interleaved: each round runs every configuration once
        for batch, train in ((4096, tr), (256, head)):
            log("DeepFM batch %d, round %d: DeepCTR-Torch, libdeepctr 1 and 2 threads" % (batch, rnd + 1))
            runs.append(torch_deepfm(ctx, train, te, batch, core))
            runs.append(dctr_deepfm(ctx, train, batch, 1))
            runs.append(dctr_deepfm(ctx, train, batch, 2))
    rows = []
    for batch, goal, n in ((4096, 3.0, s["deepfm_rows"]), (256, 8.0, s["deepfm_rows_b256"])):
        t, d1, d2 = (best(runs, tool="deepctr-torch", batch=batch),
                     best(runs, tool="libdeepctr", batch=batch, threads=1),
                     best(runs, tool="libdeepctr", batch=batch, threads=2))
        target = "DeepFM train >= %gx DeepCTR-Torch, batch %d, 1 thread each (%d rows)" % (goal, batch, n)
        if t and d1:
            ratio = d1["samples_per_s"] / t["samples_per_s"]
            rows.append(row(target, "libdeepctr %s samples/s, DeepCTR-Torch %s"
                            % (fmt_sps(d1["samples_per_s"]), fmt_sps(t["samples_per_s"])),
                            ratio, ratio >= goal))
        else:
            why = first_error(runs, tool="deepctr-torch") if not t else first_error(runs, tool="libdeepctr")
            rows.append(row(target, "not measured: " + why, None, None))
        target = "DeepFM train, 2 threads clearly faster than 1 (>= %.1fx), batch %d" % (TWO_THREADS_CLEARLY, batch)
        if d1 and d2:
            ratio = d2["samples_per_s"] / d1["samples_per_s"]
            rows.append(row(target, "%s vs %s samples/s" % (fmt_sps(d2["samples_per_s"]), fmt_sps(d1["samples_per_s"])),
                            ratio, ratio >= TWO_THREADS_CLEARLY))
        else:
            rows.append(row(target, "not measured: " + first_error(runs, tool="libdeepctr"), None, None))
    notes = ["DeepFM: `deepctr train` and DeepCTR-Torch (deepctr_torch.sh) on the same `deepctr synth` "
             "file, emb 8, DNN 256-128 without batch norm or dropout, Adam 1e-3, one epoch, best of %d "
             "interleaved rounds; samples/s of the training epoch alone (both parse and encode the CSV "
             "before the clock starts). Batch 4096 on %d rows; batch 256 on the first %d of them "
             "(DeepCTR-Torch at batch 256 is slow). DeepCTR-Torch runs with OPENBLAS_CORETYPE=%s, the "
             "OpenBLAS kernel libdeepctr uses, so both multiply on the same kernels."
             % (s["rounds"], s["deepfm_rows"], s["deepfm_rows_b256"], core)]
    return {"rows": rows, "runs": runs, "notes": notes}


# ---------------------------------------------------------------- sgemm bound per kernel

def kernel_goal(core):
    c = (core or "").lower()
    if c.startswith(AVX2_CORES):
        return 0.85
    if c.startswith(AVX512_CORES):
        return 0.70
    return None


def bench_train_deepfm(ctx, env_add, tag):
    out = os.path.join(ctx.tmp, "kernels_%s.json" % re.sub(r"[^A-Za-z0-9]+", "_", tag))
    s = ctx.size
    cmd = [os.path.join(ctx.build, "bench", "bench_train"), "--rows", s["kernel_rows"],
           "--models", "deepfm", "--batches", "4096", "--threads", "1,2", "--no-scaling",
           "--max-seconds", s["kernel_seconds"], "--dir", ctx.data_dir, "--json", out]
    if ctx.quick:
        cmd.insert(1, "--quick")
    r = run(cmd, env_add)
    try:
        with open(out) as f:
            return json.load(f), r
    except (OSError, ValueError):
        return None, r


def step_kernels(ctx):
    simd = ctx.machine["simd"]
    variants = [("default", None)]
    if simd in ("avx2", "avx512"):
        variants.append(("Haswell", {"OPENBLAS_CORETYPE": "Haswell"}))
    if simd == "avx512":
        # an AVX2 CPU as far as both libraries can tell: OpenBLAS's Haswell kernels and the
        # library's AVX2 kernels (its own training GEMMs are AVX-512 only: OpenBLAS trains)
        variants.append(("Haswell, library at AVX2",
                         {"OPENBLAS_CORETYPE": "Haswell", "DCTR_SIMD": "avx2"}))
        variants.append(("SkylakeX", {"OPENBLAS_CORETYPE": "SkylakeX"}))
    rows, runs = [], []
    for tag, env in variants:
        log("DeepFM vs sgemm bound, batch 4096, OpenBLAS kernel: %s" % tag)
        res, r = bench_train_deepfm(ctx, env, tag)
        core = (res or {}).get("machine", {}).get("openblas_core", "unknown")
        goal = kernel_goal(core)
        for threads in (1, 2):
            t = None
            for x in (res or {}).get("train", []):
                if x.get("batch") == 4096 and x.get("threads") == threads and x.get("ok"):
                    t = x
            runs.append({"variant": tag, "core": core, "threads": threads, "env": env or {},
                         "exit": r["exit"], "result": t})
            target = ("DeepFM train, batch 4096, %d thread%s, %s kernels (%s) >= %s of the sgemm bound"
                      % (threads, "s" if threads > 1 else "", tag, core,
                         "%.0f%%" % (100 * goal) if goal else "(not judged under this kernel)"))
            if not t:
                rows.append(row(target, "not measured: bench_train exit %d: %s"
                                % (r["exit"], last_line(r["err"])), None, None))
                continue
            ratio = t["sgemm_ratio"]
            rows.append(row(target, "%s samples/s, bound %s" % (fmt_sps(t["samples_per_s"]),
                                                                fmt_sps(t["sgemm_bound_samples_per_s"])),
                            ratio, None if goal is None else ratio >= goal, unit="%"))
            if goal is None:
                rows[-1]["status"] = "not judged"
    notes = ["sgemm bound: bench_train (DeepFM only, %d rows, batch 4096): the DNN's six GEMMs alone "
             "through the same dctr_sgemm, on as many threads, measured right before the training run "
             "in the same process; the kernel is chosen with OPENBLAS_CORETYPE and the core OpenBLAS "
             "reports is shown. Targets: 85%% with AVX2 (Haswell / Zen) kernels, 70%% with AVX-512 "
             "(SkylakeX) kernels; never judged under Prescott." % ctx.size["kernel_rows"]]
    return {"rows": rows, "runs": runs, "notes": notes}


# ---------------------------------------------------------------- Prescott fallback

def step_fallback(ctx):
    simd = ctx.machine["simd"]
    by_hand = {"avx512": "SkylakeX", "avx2": "Haswell"}.get(simd)
    target = "Prescott fallback fixed automatically: DCTR_BLAS_AUTO=1 within 10% of the core type set by hand"
    if not by_hand:
        return {"rows": [row(target, "not measured: CPU without AVX2, Prescott is its kernel", None, None)],
                "runs": [], "notes": []}
    tr, _, _ = deepfm_files(ctx)
    configs = [("fallback", {"OPENBLAS_CORETYPE": "Prescott", "DCTR_BLAS_AUTO": "0"}),
               ("auto", {"OPENBLAS_CORETYPE": "Prescott", "DCTR_BLAS_AUTO": "1"}),
               ("by_hand", {"OPENBLAS_CORETYPE": by_hand, "DCTR_BLAS_AUTO": "0"})]
    cores = {tag: blas_of(ctx.deepctr, env)[1] for tag, env in configs}
    runs = []
    for rnd in range(ctx.size["fallback_rounds"]):
        log("Prescott fallback, round %d: DeepFM batch 4096, 1 thread, three ways" % (rnd + 1))
        for tag, env in configs:
            r = dctr_deepfm(ctx, tr, 4096, 1, env)
            r["variant"], r["core"] = tag, cores[tag]
            runs.append(r)
    b = {tag: best(runs, variant=tag) for tag, _ in configs}
    if not all(b.values()):
        return {"rows": [row(target, "not measured: " + first_error(runs), None, None)], "runs": runs, "notes": []}
    sps = {tag: b[tag]["samples_per_s"] for tag in b}
    ratio = sps["auto"] / sps["by_hand"]
    measured = ("auto %s samples/s (kernel %s), by hand %s (%s), Prescott %s (%s)"
                % (fmt_sps(sps["auto"]), cores["auto"], fmt_sps(sps["by_hand"]), by_hand,
                   fmt_sps(sps["fallback"]), cores["fallback"]))
    notes = ["Prescott fallback: `deepctr train` DeepFM (batch 4096, 1 thread, %d rows) with "
             "OPENBLAS_CORETYPE=Prescott DCTR_BLAS_AUTO=0 (what OpenBLAS picks on a CPU it does not "
             "know), the same with DCTR_BLAS_AUTO=1 (deepctr re-executes itself with a better core "
             "type), and OPENBLAS_CORETYPE=%s set by hand; best of %d interleaved rounds. The kernel "
             "column is what `deepctr --version` reports under the same environment."
             % (ctx.size["deepfm_rows"], by_hand, ctx.size["fallback_rounds"])]
    return {"rows": [row(target, measured, ratio, ratio >= 0.9)], "runs": runs, "notes": notes}


# ---------------------------------------------------------------- FFM vs libffm

def step_libffm(ctx):
    script = os.path.join(HERE, "ffm_vs_libffm.sh")
    if os.access(script, os.X_OK):
        return external_ffm(ctx, script)
    from peers_ffm import own_ffm_step  # bench/peers_ffm.py
    return own_ffm_step(ctx)


def external_ffm(ctx, script):
    """bench/ffm_vs_libffm.sh BUILD_DIR [--quick]: its Markdown rows "| target | measured | ratio |
    status |" (or 3-cell "| target | measured | status |") join the table, "RESULT {json}" lines
    the JSON. DCTR_BENCH_DATA_DIR and DCTR_PEERS_DIR tell it where data and peers are."""
    log("FFM vs libffm through %s" % os.path.relpath(script))
    cmd = [script, ctx.build] + (["--quick"] if ctx.quick else [])
    r = run(cmd, {"DCTR_BENCH_DATA_DIR": ctx.data_dir, "DCTR_PEERS_DIR": ctx.peers}, cwd=ROOT)
    rows, results = [], []
    for line in r["out"].splitlines():
        line = line.strip()
        if line.startswith("RESULT "):
            try:
                results.append(json.loads(line[7:]))
            except ValueError:
                pass
        elif line.startswith("|") and not re.match(r"^\|[\s|:-]*$", line):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0].lower() in ("target", "issue-12 target"):
                continue
            if len(cells) == 3:
                cells = [cells[0], cells[1], "", cells[2]]
            if len(cells) >= 4:
                rows.append({"target": cells[0], "measured": cells[1], "ratio": cells[2] or None,
                             "status": cells[3]})
    if r["exit"] != 0 and not rows:
        rows.append(row("FFM vs libffm (%s)" % os.path.basename(script),
                        "not measured: exit %d: %s" % (r["exit"], last_line(r["err"])), None, None))
    return {"rows": rows, "runs": results, "notes": ["FFM vs libffm: rows from %s." % os.path.relpath(script, ROOT)],
            "external": {"command": " ".join(cmd), "exit": r["exit"], "seconds": r["seconds"]}}


def run_steps(ctx, names):
    """Runs the named steps in order; a step that raises is reported, not fatal."""
    out = {}
    fns = {"torch": step_torch, "kernels": step_kernels, "fallback": step_fallback, "libffm": step_libffm}
    for n in STEPS:
        if n not in names:
            continue
        t0 = time.time()
        try:
            out[n] = fns[n](ctx)
        except Exception as e:  # a broken step must not hide the others' figures
            out[n] = {"rows": [row("step %s" % n, "not measured: %s: %s" % (type(e).__name__, e), None, None)],
                      "runs": [], "notes": []}
        out[n]["seconds"] = round(time.time() - t0, 1)
    return out


def markdown(ctx, steps):
    m = ctx.machine
    lines = ["## Beside the peers (issue 12): measured in this run, on the same files", "",
             "| target | measured in this run | ratio | status |", "|---|---|---|---|"]
    for n in STEPS:
        for r in (steps.get(n) or {}).get("rows", []):
            ratio = r["ratio"]
            if isinstance(ratio, (int, float)):
                ratio = "%.0f%%" % (100 * ratio) if r.get("unit") == "%" else "%.2fx" % ratio
            lines.append("| %s | %s | %s | %s |" % (r["target"], r["measured"], ratio or "-", r["status"]))
    lines.append("")
    for n in STEPS:
        for note in (steps.get(n) or {}).get("notes", []):
            lines.append("- " + note)
    lines.append("")
    return "\n".join(lines)

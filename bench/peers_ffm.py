"""bench/run's own FFM-vs-libffm step (used when bench/ffm_vs_libffm.sh is absent): libffm's
ffm-train and `deepctr train --model ffm --format libffm` with the same flags on the same files.

- cache-resident: frappe's train + test rows (../shared/data/frappe/*.ffm) repeated x16 (quick: x4)
- memory-bound: `deepctr synth --libffm` rows, 39 fields (400k rows; quick: 20k, which is not
  memory-bound and only checks the harness)

Steady-state seconds per epoch: the median of the epochs after the first, parsing excluded for
both (libffm converts the text to its .bin file before its first epoch; libdeepctr parses before
its first).
libffm prints cumulative training seconds per epoch at 0.1 s resolution, libdeepctr each
epoch's seconds. 1 and 2 threads each; peak RSS of each process from wait4's rusage.
"""
import os
import re

from peers import ROOT, last_line, log, row, run

MIB = 1024.0 * 1024.0
EPOCH_LINE = re.compile(r"^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s*$", re.M)
MODEL_LINE = re.compile(r"model: ffm, (\d+) fields, (\d+) features, k=(\d+), (\d+) parameters")


def build_libffm(ctx):
    script = os.path.join(ctx.peers, "build_libffm.sh")
    if not os.path.exists(script):
        return None, "%s missing" % script
    r = run([script, os.path.join(ctx.tmp, "libffm")])
    d = r["out"].strip().splitlines()[-1] if r["out"].strip() else ""
    if r["exit"] != 0 or not os.path.exists(os.path.join(d, "ffm-train")):
        return None, "libffm did not build: " + last_line(r["err"] or r["out"])
    return d, None


def ffm_files(ctx):
    """[(label, path)] of the two files; a file that cannot be made is (label, None, why)."""
    s = ctx.size
    files = []
    frappe = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "frappe"))
    parts = [os.path.join(frappe, "frappe.%s.ffm" % p) for p in ("train", "test")]
    label = "cache-resident: frappe x%d" % s["frappe_copies"]
    if all(os.path.exists(p) for p in parts):
        out = os.path.join(ctx.data_dir, "frappe_x%d.ffm" % s["frappe_copies"])
        if not os.path.exists(out):
            text = "".join(open(p).read() for p in parts)
            with open(out + ".tmp", "w") as f:
                for _ in range(s["frappe_copies"]):
                    f.write(text)
            os.rename(out + ".tmp", out)
        files.append((label, out, None))
    else:
        files.append((label, None, "%s missing" % frappe))
    n, vocab = s["ffm_synth_rows"], s["ffm_synth_vocab"]
    label = "memory-bound: %d deepctr synth rows" % n
    out = os.path.join(ctx.data_dir, "ffm_synth_%d_%d.ffm" % (n, vocab))
    if not os.path.exists(out):
        csv = os.path.join(ctx.tmp, "ffm_synth.csv")
        r = run([ctx.deepctr, "synth", "--rows", n, "--seed", "2", "--max-vocab", vocab, "--out", csv, "--libffm", out + ".tmp"])
        if os.path.exists(csv):
            os.unlink(csv)
        if r["exit"] != 0:
            files.append((label, None, "deepctr synth failed: " + last_line(r["err"])))
            return files
        os.rename(out + ".tmp", out)
    files.append((label, out, None))
    return files


def steady(seconds_each):
    """Median seconds of the epochs after the first: robust to a burst of other jobs during one
    epoch on a shared machine (runs slowed throughout are handled by the best of the rounds)."""
    rest = sorted(seconds_each[1:])
    if not rest:
        return None
    h = len(rest) // 2
    return rest[h] if len(rest) % 2 else (rest[h - 1] + rest[h]) / 2


def bin_path(ctx, path):
    """libffm writes its binary copy of the training file to ./basename(path).bin: runs use tmp."""
    return os.path.join(ctx.tmp, os.path.basename(path) + ".bin")


def libffm_run(ctx, lib, path, threads):
    r = run([os.path.join(lib, "ffm-train")] + ctx_ffm_flags(ctx) + ["-s", threads, path,
                                                                   os.path.join(ctx.tmp, "libffm.model")],
            cwd=ctx.tmp)
    cum = [float(m.group(3)) for m in EPOCH_LINE.finditer(r["out"])]
    res = {"tool": "libffm", "file": path, "threads": threads, "exit": r["exit"],
           "peak_rss_bytes": r["peak_rss_bytes"], "cumulative_seconds": cum}
    if r["exit"] != 0 or len(cum) < 2:
        res["error"] = "libffm: " + last_line(r["err"] or r["out"])
    else:
        res["epoch_seconds"] = steady([cum[0]] + [b - a for a, b in zip(cum, cum[1:])])
    return res


def dctr_run(ctx, path, threads):
    r = run([ctx.deepctr, "train", "--model", "ffm", "--format", "libffm", "--train", path] +
            ctx_ffm_flags(ctx) + ["-s", threads, "--out", os.path.join(ctx.tmp, "ffm.dctr")])
    each = [float(m.group(3)) for m in EPOCH_LINE.finditer(r["out"])]
    res = {"tool": "libdeepctr", "file": path, "threads": threads, "exit": r["exit"],
           "peak_rss_bytes": r["peak_rss_bytes"], "per_epoch_seconds": each}
    m = MODEL_LINE.search(r["out"])
    if m:
        res["parameters"] = int(m.group(4))
    if r["exit"] != 0 or len(each) < 2:
        res["error"] = "deepctr: " + last_line(r["err"] or r["out"])
    else:
        res["epoch_seconds"] = steady(each)
    return res


def ctx_ffm_flags(ctx):
    return ["-k", "4", "-t", str(ctx.size["ffm_epochs"]), "-r", "0.2", "-l", "2e-5"]


def fastest(runs, **kv):
    ok = [r for r in runs if all(r.get(k) == v for k, v in kv.items()) and r.get("epoch_seconds")]
    return min(ok, key=lambda r: r["epoch_seconds"]) if ok else None


def file_rows(ctx, label, path, runs, goal, base):
    """The target rows of one file: speed vs libffm, 2 threads vs 1, peak RSS."""
    rows = []
    lib1, lib2 = fastest(runs, tool="libffm", file=path, threads=1), fastest(runs, tool="libffm", file=path, threads=2)
    us1, us2 = fastest(runs, tool="libdeepctr", file=path, threads=1), fastest(runs, tool="libdeepctr", file=path, threads=2)
    target = "FFM >= %.1fx libffm per thread, %s, 1 thread each" % (goal, label)
    if lib1 and us1:
        ratio = lib1["epoch_seconds"] / us1["epoch_seconds"]
        rows.append(row(target, "s/epoch: libdeepctr %.3f, libffm %.3f"
                        % (us1["epoch_seconds"], lib1["epoch_seconds"]), ratio, ratio >= goal))
    else:
        why = [r.get("error") for r in runs if r.get("file") == path and r.get("error")]
        rows.append(row(target, "not measured: " + (why[0] if why else "no run"), None, None))
    target = "FFM, two threads beat one, %s" % label
    if us1 and us2:
        ratio = us1["epoch_seconds"] / us2["epoch_seconds"]
        extra = ""
        if lib2:
            extra = "; libffm 2 threads %.3f (libdeepctr %.2fx it)" % (
                lib2["epoch_seconds"], lib2["epoch_seconds"] / us2["epoch_seconds"])
        rows.append(row(target, "s/epoch: 2 threads %.3f, 1 thread %.3f%s"
                        % (us2["epoch_seconds"], us1["epoch_seconds"], extra), ratio, ratio > 1.0))
    target = "FFM peak RSS <= 1.1 x (weights + AdaGrad) + data, %s" % label
    binf = bin_path(ctx, path)
    if us1 and us1.get("parameters") and os.path.exists(binf):
        wg = us1["parameters"] * 4.0 * 2
        data = float(os.path.getsize(binf))
        limit = 1.1 * wg + data
        peak = max(r["peak_rss_bytes"] for r in runs if r["tool"] == "libdeepctr" and r["file"] == path
                   and r.get("peak_rss_bytes")) - base
        lib_peak = max([r["peak_rss_bytes"] for r in runs if r["tool"] == "libffm" and r["file"] == path
                        and r.get("peak_rss_bytes")] or [0])
        rows.append(row(target, "peak %.0f MiB above the program's own %.0f MiB vs %.0f MiB (weights + "
                        "AdaGrad %.0f MiB, data %.0f MiB); libffm peak %.0f MiB in all"
                        % (peak / MIB, base / MIB, limit / MIB, wg / MIB, data / MIB, lib_peak / MIB),
                        peak / limit, peak <= limit, unit="%"))
    return rows


def own_ffm_step(ctx):
    lib, why = build_libffm(ctx)
    files = ffm_files(ctx)
    rows, runs = [], []
    # the program's fixed resident cost (binary, libraries, OpenBLAS buffers): `deepctr --version`
    base = run([ctx.deepctr, "--version"])["peak_rss_bytes"] or 0
    for (label, path, err), goal in zip(files, (1.5, 1.2)):
        if not path or not lib:
            rows.append(row("FFM >= %.1fx libffm per thread, %s" % (goal, label),
                            "not measured: " + (why or err), None, None))
            continue
        for rnd in range(ctx.size["ffm_rounds"]):
            for threads in (1, 2):
                log("FFM %s, round %d, %d thread(s): libffm, libdeepctr" % (label, rnd + 1, threads))
                runs.append(libffm_run(ctx, lib, path, threads))  # first: it writes the .bin it reads
                runs.append(dctr_run(ctx, path, threads))
        rows += file_rows(ctx, label, path, runs, goal, base)
        if os.path.exists(bin_path(ctx, path)):
            os.unlink(bin_path(ctx, path))
    notes = ["FFM: libffm's ffm-train (built from ../shared/peers by build_libffm.sh) and `deepctr train "
             "--model ffm --format libffm`, both `-k 4 -t %d -r 0.2 -l 2e-5 -s THREADS` on the same file; "
             "steady-state seconds per epoch (median of epochs 2..%d, parsing excluded for both), best of %d "
             "interleaved rounds. \"data\" in the RSS target is libffm's binary copy of the file (.bin, 12 "
             "bytes a feature); weights + AdaGrad = 2 x 4 bytes x the parameters libdeepctr reports; libdeepctr's peak "
             "counts what it holds above the resident size of `deepctr --version` (the program, its "
             "libraries and OpenBLAS's buffers), which a tiny model would otherwise be judged on."
             % (ctx.size["ffm_epochs"], ctx.size["ffm_epochs"], ctx.size["ffm_rounds"])]
    if ctx.quick:
        notes.append("Quick mode: %d synth rows with vocabularies capped at %d fit in cache, so the "
                     "\"memory-bound\" row is only a harness check there."
                     % (ctx.size["ffm_synth_rows"], ctx.size["ffm_synth_vocab"]))
    return {"rows": rows, "runs": runs, "notes": notes}

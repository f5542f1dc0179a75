#!/usr/bin/env python3
"""Self-test of bench/run's peer-step parsing (no peer, no build needed): the figures in the
issue-12 table come from these parsers, so a format slip must fail here, not print a wrong ratio.
Run by CTest (bench_peers_parsing) or directly: python3 bench/test_peers.py"""
import os
import stat
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import docs_update  # noqa: E402
import peers  # noqa: E402
import peers_ffm  # noqa: E402

LIBFFM_OUT = """First check if the text file has already been converted to binary format (0.0 seconds)
Binary file NOT found. Convert text file to binary file (0.2 seconds)
iter   tr_logloss      tr_time
   1      0.39153          1.6
   2      0.27617          3.2
   3      0.25029          4.9
   4      0.24000          6.4
"""
DCTR_OUT = """iter    tr_logloss   tr_time
   1       0.39153      0.18
   2       0.27617      0.17
   3       0.25029      0.19
   4       0.25000      0.16
model: ffm, 10 fields, 5382 features, k=4, 215280 parameters -> ffm.dctr
"""


class FakeCtx:
    quick = True
    peers = "/nonexistent"
    data_dir = tempfile.gettempdir()
    build = "/nonexistent"
    machine = {"cpu_model": "Test CPU", "openblas_core": "Haswell"}


def test_epoch_parsing():
    cum = [float(m.group(3)) for m in peers_ffm.EPOCH_LINE.finditer(LIBFFM_OUT)]
    assert cum == [1.6, 3.2, 4.9, 6.4], cum
    each = [cum[0]] + [b - a for a, b in zip(cum, cum[1:])]
    assert abs(peers_ffm.steady(each) - 1.6) < 1e-9  # median of 1.6, 1.7, 1.5
    per = [float(m.group(3)) for m in peers_ffm.EPOCH_LINE.finditer(DCTR_OUT)]
    assert per == [0.18, 0.17, 0.19, 0.16], per
    assert abs(peers_ffm.steady(per) - 0.17) < 1e-9
    assert peers_ffm.steady([1.0]) is None
    m = peers_ffm.MODEL_LINE.search(DCTR_OUT)
    assert m and int(m.group(4)) == 215280


def test_kernel_goal():
    assert peers.kernel_goal("Haswell") == 0.85 and peers.kernel_goal("Zen") == 0.85
    assert peers.kernel_goal("SkylakeX") == 0.70 and peers.kernel_goal("Cooperlake") == 0.70
    assert peers.kernel_goal("Prescott") is None and peers.kernel_goal("unknown") is None


def test_simd_of():
    assert peers.simd_of({"avx512f", "avx512bw", "avx512dq", "avx512vl", "fma", "avx2"}) == "avx512"
    assert peers.simd_of({"avx512f", "avx2", "fma"}) == "avx2"
    assert peers.simd_of({"sse2"}) == "portable"


def test_external_script_rows():
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "ffm_vs_libffm.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\necho noise\necho '| target | measured | ratio | status |'\n"
                    "echo '|---|---|---|---|'\necho '| FFM a | 1 vs 2 | 2.00x | met |'\n"
                    "echo '| FFM b | three cells | not met |'\necho 'RESULT {\"x\": 1}'\n")
        os.chmod(script, os.stat(script).st_mode | stat.S_IEXEC)
        ctx = FakeCtx()
        r = peers.external_ffm(ctx, script)
    assert [x["target"] for x in r["rows"]] == ["FFM a", "FFM b"], r["rows"]
    assert r["rows"][0]["ratio"] == "2.00x" and r["rows"][1]["status"] == "not met"
    assert r["runs"] == [{"x": 1}]


def test_markdown_and_readme_row():
    steps = {"torch": {"rows": [peers.row("DeepFM train >= 3x DeepCTR-Torch, batch 4096, 1 thread each", "a", 3.5, True),
                                peers.row("DeepFM train >= 8x DeepCTR-Torch, batch 256, 1 thread each", "b", None, None)],
                       "notes": ["n"]},
             "kernels": {"rows": [peers.row("x >= 85% of the sgemm bound", "c", 0.9, True, unit="%")]}}
    md = peers.markdown(FakeCtx(), steps)
    assert "| 3.50x | met |" in md and "| 90% | met |" in md and "| - | not measured |" in md, md
    out = {"mode": "full", "machine": FakeCtx.machine, "peers": steps}
    assert "speed" in docs_update.speed_row(out) and "3.5" not in docs_update.speed_row(out)  # 256 missing
    steps["torch"]["rows"][1]["ratio"] = 9.0
    row = docs_update.speed_row(out)
    assert "3.5× as fast as DeepCTR-Torch at batch 4096 and 9.0×" in row, row
    out["mode"] = "quick"
    assert "×" not in docs_update.speed_row(out)  # a quick run puts no figure in the README


if __name__ == "__main__":
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
            print("ok", name)

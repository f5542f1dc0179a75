"""libdeepctr.convert_torch against the pinned DeepCTR-Torch (../shared/peers/deepctr-torch, or
$DCTR_PEERS_DIR): DeepFM models trained a few steps (sparse + dense + varlen mean / sum / max,
with a length column, with and without the DNN, with BN, PReLU, different linear and DNN columns,
a shared table) convert, and libdeepctr's predictions equal DeepCTR-Torch's within 1e-5 on every
test row; the state_dict + JSON columns path through the CLI; refusals."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
PEERS = os.environ.get("DCTR_PEERS_DIR", os.path.join(ROOT, "..", "shared", "peers"))

torch = pytest.importorskip("torch", reason="python3-torch is not installed")
if not os.path.isdir(os.path.join(PEERS, "deepctr-torch", "deepctr_torch")):
    pytest.skip("DeepCTR-Torch peer not found (set DCTR_PEERS_DIR)", allow_module_level=True)
for _p in (os.path.join(PEERS, "tfshim"), os.path.join(PEERS, "deepctr-torch")):
    if _p not in sys.path:
        sys.path.insert(0, _p)
try:
    from deepctr_torch.inputs import DenseFeat, SparseFeat, VarLenSparseFeat
    from deepctr_torch.models import DeepFM
except ImportError as e:  # e.g. sklearn / tqdm missing
    pytest.skip("DeepCTR-Torch does not import: %s" % e, allow_module_level=True)

import libdeepctr as L  # noqa: E402
from libdeepctr.convert_torch import ConversionError, convert_deepfm  # noqa: E402

N_TRAIN, N_TEST, T = 384, 257, 5
torch.set_num_threads(1)


def columns(emb=4, dense_dim=2):
    sp = [SparseFeat("a", 7, emb), SparseFeat("b", 11, emb), SparseFeat("b2", 11, emb, embedding_name="b")]
    de = [DenseFeat("x", 1), DenseFeat("y", dense_dim)]
    vl = [VarLenSparseFeat(SparseFeat("h_mean", 9, emb), T, "mean"),
          VarLenSparseFeat(SparseFeat("h_sum", 9, emb, embedding_name="h_mean"), T, "sum"),
          VarLenSparseFeat(SparseFeat("h_max", 6, emb), T, "max"),
          VarLenSparseFeat(SparseFeat("h_len", 8, emb), T, "mean", length_name="h_len_n")]
    return sp, de, vl


def make_data(n, seed, dense_dim=2):
    r = np.random.RandomState(seed)
    X = {"a": r.randint(0, 7, n), "b": r.randint(0, 11, n), "b2": r.randint(0, 11, n),
         "x": r.randn(n).astype(np.float32), "y": r.randn(n, dense_dim).astype(np.float32) * 2}

    def seqs(vocab, min_len):
        s = np.zeros((n, T), dtype=np.int64)
        for i in range(n):
            k = r.randint(min_len, T + 1)
            s[i, :k] = r.randint(1, vocab, k)
            if k > 2 and r.rand() < 0.3:
                s[i, 1] = 0  # a hole: masked by DeepCTR-Torch (id != 0) and libdeepctr alike
        return s
    X["h_mean"], X["h_sum"] = seqs(9, 0), seqs(9, 0)
    X["h_max"] = seqs(6, 1)  # no empty rows: see the converter's note on max pooling
    X["h_len"] = r.randint(0, 8, (n, T))  # with a length column, id 0 inside the length counts
    X["h_len_n"] = r.randint(0, T + 1, n)
    y = (r.rand(n) < 0.4).astype(np.float32)
    return X, y


def torch_input(X, model):
    return {k: X[k] for k in model.feature_index}


def c_input(X):
    out = {k: v for k, v in X.items() if k != "h_len_n"}
    out["h_len"] = [list(row[:n]) for row, n in zip(X["h_len"], X["h_len_n"])]
    return out


def train(linear, dnn, **kw):
    kw.setdefault("dnn_hidden_units", (16, 8))
    m = DeepFM(linear, dnn, init_std=0.3, seed=7, device="cpu", **kw)
    m.compile(torch.optim.Adam(m.parameters(), lr=0.02),
              "mse" if kw.get("task") == "regression" else "binary_crossentropy")
    X, y = make_data(N_TRAIN, 1)
    m.fit(torch_input(X, m), y, batch_size=64, epochs=1, verbose=0)
    return m


def assert_same(m, c, tol=1e-5):
    X, _ = make_data(N_TEST, 2)
    want = m.predict(torch_input(X, m), batch_size=N_TEST)[:, 0]
    got = c.predict_proba(c_input(X))
    assert want.std() > 0.02, "predictions barely vary: the comparison would prove little"
    err = np.abs(got.astype(np.float64) - want)
    assert err.max() <= tol, "row %d: libdeepctr %.8f, DeepCTR-Torch %.8f" % (err.argmax(), got[err.argmax()],
                                                                            want[err.argmax()])
    return got


CASES = {
    "dnn": dict(),
    "dnn_bn": dict(dnn_use_bn=True),
    "no_dnn": dict(dnn_hidden_units=()),
    "bn_prelu_no_fm": dict(dnn_use_bn=True, dnn_activation="prelu", use_fm=False),
    "bn_sigmoid_dropout": dict(dnn_use_bn=True, dnn_activation="sigmoid", dnn_dropout=0.3),
    "regression_bn": dict(dnn_use_bn=True, task="regression"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_converted_predictions_equal_torch(case, tmp_path):
    sp, de, vl = columns()
    feats = sp + de + vl
    m = train(feats, feats, **CASES[case])
    c = convert_deepfm(m)
    assert type(c).__name__ == ("FM" if case == "no_dnn" else "DeepFM")
    if case == "regression_bn":
        X, _ = make_data(N_TEST, 2)
        want = m.predict(torch_input(X, m), batch_size=N_TEST)[:, 0]
        got = c.predict_proba(c_input(X))
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
        return
    got = assert_same(m, c)
    path = tmp_path / "m.dctr"
    c.save(path)
    assert np.array_equal(L.DeepFM.load(path).predict_proba(c_input(make_data(N_TEST, 2)[0])), got)


def test_different_linear_and_dnn_columns():
    sp, de, vl = columns()
    linear = [de[1], sp[1], vl[2], de[0], sp[0]]      # dense in another order than the DNN's
    dnn = [vl[0], de[0], sp[2], de[1], sp[0], vl[3]]
    m = train(linear, dnn, dnn_use_bn=True)
    assert_same(m, convert_deepfm(m))


def test_bn_eps_matters():
    """torch's eps 1e-5 is carried: the same weights under Keras's 1e-3 would differ."""
    sp, de, vl = columns()
    m = train(sp + de + vl, sp + de + vl, dnn_use_bn=True)
    for bn in m.dnn.bn:  # small running variances make eps count
        bn.running_var.data.mul_(1e-2)
    assert_same(m, convert_deepfm(m))
    c = convert_deepfm(m.state_dict(), m.linear_model.sparse_feature_columns + m.linear_model.dense_feature_columns
                       + m.linear_model.varlen_sparse_feature_columns, m.dnn_feature_columns, bn_eps=1e-3)
    X, _ = make_data(N_TEST, 2)
    want = m.predict(torch_input(X, m), batch_size=N_TEST)[:, 0]
    assert np.abs(c.predict_proba(c_input(X)) - want).max() > 1e-3


def _json_col(fc):
    if isinstance(fc, DenseFeat):
        return {"type": "dense", "name": fc.name, "dimension": fc.dimension}
    sp = fc.sparsefeat if isinstance(fc, VarLenSparseFeat) else fc
    d = {"type": "sparse", "name": sp.name, "vocabulary_size": sp.vocabulary_size,
         "embedding_dim": sp.embedding_dim, "embedding_name": sp.embedding_name}
    if isinstance(fc, VarLenSparseFeat):
        d.update(type="varlen", maxlen=fc.maxlen, combiner=fc.combiner, length_name=fc.length_name)
    return d


def test_cli_state_dict_and_whole_module(tmp_path):
    sp, de, vl = columns()
    feats = sp + de + vl
    m = train(feats, feats, dnn_use_bn=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "python"),
                                                       os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "libdeepctr.convert_torch"]
    h = subprocess.run(cmd + ["--help"], capture_output=True, text=True, env=env)
    assert h.returncode == 0 and "state_dict" in h.stdout
    torch.save(m.state_dict(), tmp_path / "sd.pt")
    (tmp_path / "cols.json").write_text(json.dumps({"linear": [_json_col(f) for f in feats],
                                                    "dnn": [_json_col(f) for f in feats]}))
    r = subprocess.run(cmd + [str(tmp_path / "sd.pt"), str(tmp_path / "a.dctr"), "--columns",
                              str(tmp_path / "cols.json")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert_same(m, L.DeepFM.load(tmp_path / "a.dctr"))
    torch.save(m, tmp_path / "whole.pt")
    r = subprocess.run(cmd + [str(tmp_path / "whole.pt"), str(tmp_path / "b.dctr"), "--deepctr-torch",
                              os.path.join(PEERS, "deepctr-torch"), "--deepctr-torch", os.path.join(PEERS, "tfshim")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert_same(m, L.DeepFM.load(tmp_path / "b.dctr"))


def test_refusals(tmp_path):
    sp, de, vl = columns()
    feats = sp + de + vl
    dice = DeepFM(feats, feats, dnn_hidden_units=(4,), dnn_activation="dice", device="cpu")
    with pytest.raises(ConversionError, match="Dice"):
        convert_deepfm(dice)
    m = DeepFM(feats, feats, dnn_hidden_units=(4,), device="cpu")
    sd = m.state_dict()
    sd["extra.weight"] = torch.zeros(2)
    with pytest.raises(ConversionError, match="extra.weight"):
        convert_deepfm(sd, feats, feats)
    with pytest.raises(ConversionError, match="multiclass"):
        convert_deepfm(m.state_dict(), feats, feats, task="multiclass")
    hashed = [SparseFeat("a", 7, 4, use_hash=True)]
    with pytest.raises(ConversionError, match="use_hash"):
        convert_deepfm(DeepFM(hashed, hashed, dnn_hidden_units=(4,), device="cpu"))

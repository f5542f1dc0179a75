"""The Python package against the C library and the `deepctr` program: a Python-trained model
scores the same in C (and the reverse) within 1e-6; frappe from a DataFrame reaches exactly the
CLI's test AUC with the same settings; varlen columns, embeddings, errors."""
import json
import os
import subprocess

import numpy as np
import pytest

import libdeepctr as L



def pandas():
    return pytest.importorskip("pandas")


def run(cli, *args):
    r = subprocess.run([cli, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def cli_predict(cli, model, data, tmp_path):
    out = tmp_path / "pred.txt"
    run(cli, "predict", "--model-file", str(model), "--data", data, "--out", str(out))
    return np.loadtxt(out, dtype=np.float64)


def criteo(data_dir):
    path = os.path.join(data_dir, "deepctr-samples", "criteo_sample.txt")
    return path, pandas().read_csv(path)


def test_python_model_scores_same_in_c(data_dir, cli, tmp_path):
    path, df = criteo(data_dir)
    sparse = [L.SparseFeat("C%d" % i, "auto", 4, dtype="string") for i in range(1, 27)]
    dense = [L.DenseFeat("I%d" % i, transform="minmax") for i in range(1, 14)]
    m = L.DeepFM(dense + sparse, dense + sparse, dnn_hidden_units=(16, 8))
    hist = m.fit(df, df["label"].values, epochs=2, verbose=0, validation_split=0.2)
    assert len(hist["loss"]) == 2 and "val_auc" in hist
    m.save(tmp_path / "py.dctr")
    mine = m.predict_proba(df)
    theirs = cli_predict(cli, tmp_path / "py.dctr", path, tmp_path)
    assert mine.shape == (len(df),)
    assert np.abs(mine - theirs).max() < 1e-6
    loaded = L.DeepFM.load(tmp_path / "py.dctr")
    assert np.array_equal(loaded.predict_proba(df), mine)


def test_c_model_scores_same_in_python(data_dir, cli, tmp_path):
    path, df = criteo(data_dir)
    run(cli, "train", "--train", path, "--epochs", "2", "--hidden", "16,8", "--out", str(tmp_path / "c.dctr"))
    m = L.Estimator.load(tmp_path / "c.dctr")
    assert isinstance(m, L.DeepFM)
    prob, logit = m.predict_proba(df, logits=True)
    assert np.abs(prob - cli_predict(cli, tmp_path / "c.dctr", path, tmp_path)).max() < 1e-6
    assert np.abs(1 / (1 + np.exp(-logit.astype(np.float64))) - prob).max() < 1e-6


def test_frappe_dataframe_matches_cli_auc(data_dir, cli, tmp_path):
    tr = os.path.join(data_dir, "frappe", "frappe.train.csv")
    te = os.path.join(data_dir, "frappe", "frappe.test.csv")
    if not os.path.exists(tr):
        pytest.skip("frappe not in the shared data")
    run(cli, "train", "--train", tr, "--epochs", "2", "--early-stop", "0", "--out", str(tmp_path / "f.dctr"))
    want = json.loads(run(cli, "eval", "--model-file", str(tmp_path / "f.dctr"), "--data", te, "--json"))["auc"]
    pd = pandas()
    train, test = pd.read_csv(tr, dtype=str), pd.read_csv(te, dtype=str)
    cols = [L.SparseFeat(c, "auto", 10, dtype="string", init_std=0.01) for c in train.columns if c != "label"]
    m = L.DeepFM(cols, cols, defaults="recommended")
    m.fit(train, train["label"].astype(np.float32).values, epochs=2, validation_split=0.1, verbose=0)
    got = m.evaluate(test, test["label"].astype(np.float32).values)["auc"]
    assert want > 0.85
    assert abs(got - want) < 1e-6


def test_varlen_dict_of_arrays_and_embeddings(tmp_path):
    rng = np.random.default_rng(3)
    n = 600
    X = {"user": rng.integers(0, 50, n), "genres": rng.integers(0, 8, (n, 3)),  # 0 = padding
         "price": rng.random(n).astype(np.float32)}
    y = ((X["user"] % 2) ^ (X["genres"][:, 0] > 4)).astype(np.float32)
    cols = [L.SparseFeat("user", "auto", 4), L.VarLenSparseFeat(L.SparseFeat("genres", 8, 4), maxlen=3),
            L.DenseFeat("price", transform="standardize")]
    assert L.get_feature_names(cols) == ["user", "genres", "price"]
    m = L.FM(cols, cols, optimizer="adam", learning_rate=0.05)
    m.fit(X, y, epochs=8, verbose=0)
    assert m.evaluate(X, y)["auc"] > 0.7
    e = m.get_embeddings("genres")
    assert e.shape == (8, 4)
    e[1] = 0.5
    m.set_embeddings("genres", e[1:2], first=1)
    assert np.array_equal(m.get_embeddings("genres")[1], np.full(4, 0.5, dtype=np.float32))
    m.save(tmp_path / "fm.dctr")
    assert np.array_equal(L.Estimator.load(tmp_path / "fm.dctr").predict_proba(X), m.predict_proba(X))


def test_lr_ffm_and_errors():
    rng = np.random.default_rng(5)
    n = 400
    X = {"a": rng.integers(0, 20, n).astype(str), "b": rng.integers(0, 30, n)}
    y = (rng.random(n) < 0.3).astype(np.float32)
    cols = [L.SparseFeat("a", "auto", 4, dtype="string"), L.SparseFeat("b", "auto", 4)]
    for klass in (L.LR, L.FFM, L.DeepFFM):
        m = klass(cols, cols)
        m.fit(X, y, epochs=1, verbose=0)
        p = m.predict_proba(X)
        assert p.shape == (n,) and np.all((p > 0) & (p < 1))
    with pytest.raises(KeyError):
        L.LR(cols + [L.SparseFeat("c", "auto")]).fit(X, y, epochs=1, verbose=0)
    with pytest.raises(L.DeepCTRError) as e:
        L.LR([L.SparseFeat("b", 10)]).fit(X, y, epochs=1, verbose=0)  # ids up to 29 in a table of 10
    assert "DCTR_ERR_RANGE" in str(e.value)


def test_weighted_varlen_and_columns_info():
    rng = np.random.default_rng(7)
    n = 300
    tags = [list(rng.integers(1, 6, rng.integers(0, 4))) for _ in range(n)]
    X = {"tags": tags, "tags_w": [[0.5] * len(t) for t in tags], "u": rng.integers(0, 10, n)}
    y = (rng.random(n) < 0.5).astype(np.float32)
    cols = [L.VarLenSparseFeat(L.SparseFeat("tags", 6, 4), maxlen=3, combiner="sum", weight_name="tags_w",
                               weight_norm=False),
            L.SparseFeat("u", "auto", 4)]
    m = L.DeepFM(cols, cols, dnn_hidden_units=(8,))
    m.fit(X, y, epochs=1, verbose=0)
    p1 = m.predict_proba(X)
    X2 = dict(X, tags_w=[[2.0] * len(t) for t in tags])
    assert not np.array_equal(p1, m.predict_proba(X2))  # the weights reach the model
    info = {c["name"]: c for c in m.columns_info()}
    assert info["tags"]["kind"] == "varlen" and info["tags"]["weight_name"] == "tags_w"
    assert info["u"]["fitted_values"] == 10 and info["u"]["vocabulary_size"] == 11


def test_schema_names_outlive_their_temporaries():
    """Regression: build_schema handed C the address of a temporary bytes name; two varlen
    columns sharing a table then both came out named after the first ('duplicate feature name')."""
    from libdeepctr import models
    from libdeepctr._lib import lib
    a = L.VarLenSparseFeat(L.SparseFeat("h_mean", 9, 4, dtype="int64"), 5, "mean")
    b = L.VarLenSparseFeat(L.SparseFeat("h_sum", 9, 4, dtype="int64", embedding_name="h_mean"), 5, "sum")
    s = models.build_schema([a, b, L.DenseFeat("x"), L.DenseFeat("y")])
    try:
        names = [lib.dctr_schema_column_name(s, i).decode() for i in range(lib.dctr_schema_num_columns(s))]
        assert names == ["h_mean", "h_sum", "x", "y"]
    finally:
        lib.dctr_schema_free(s)

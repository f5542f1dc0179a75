"""DeepCTR-style estimators over libdeepctr: DeepFM, FM, LR, FFM, DeepFFM with fit / predict_proba /
evaluate / save / load. X is a pandas DataFrame or a dict of numpy arrays keyed by feature name;
the data goes to the C library as columnar arrays (include/deepctr/services.h), encoded exactly as
the `deepctr` CLI encodes the same values read from a CSV file."""
import ctypes

import numpy as np

from . import _lib
from ._lib import P, check, lib
from .features import DenseFeat, SparseFeat, VarLenSparseFeat

_TYPES = {"deepfm": 0, "fm": 1, "lr": 2, "ffm": 3, "deepffm": 4}
_TASKS = {"binary": 0, "regression": 1}
_ACTS = {"relu": 0, "sigmoid": 1, "tanh": 2, "linear": 3, "prelu": 4, "dice": 5}
_OPTS = {"adam": 0, "adagrad": 1, "sgd": 2, "rmsprop": 3, "ftrl": 4}
_TRANSFORMS = {"none": 0, "log1p": 1, "minmax": 2, "standardize": 3}
_OOV = {"error": 0, "reserved": 1, "hash": 2}
_COMBINERS = {"sum": 0, "mean": 1, "max": 2}
_KIND_SPARSE, _KIND_DENSE, _KIND_VARLEN = 0, 1, 2


def _b(s):
    return None if s is None else s.encode()


def _names_array(names):
    arr = (ctypes.c_char_p * (len(names) + 1))(*[n.encode() for n in names], None)
    return ctypes.cast(arr, P(ctypes.c_char_p)), arr


def _sparse_c(fc, out):
    lib.dctr_sparse_feat_default(ctypes.byref(out), fc.name.encode())
    out.name = fc.name.encode()  # the struct keeps this one alive (the argument above is a temporary)
    out.vocabulary_size = 0 if fc.vocabulary_size == "auto" else int(fc.vocabulary_size)
    out.embedding_dim = -1 if fc.embedding_dim == "auto" else int(fc.embedding_dim)
    out.use_hash = int(bool(fc.use_hash))
    out.vocabulary_path = _b(fc.vocabulary_path)
    out.dtype = 1 if fc.dtype in ("string", "str", object) else 0
    out.init_std = float(fc.init_std)
    out.embedding_name = _b(fc.embedding_name)
    out.group_name = _b(fc.group_name)
    out.trainable = int(bool(fc.trainable))
    out.oov_policy = _OOV[fc.oov_policy]
    out.min_count = int(fc.min_count)


def build_schema(columns, label="label"):
    """A validated (not yet fitted) C schema of the feature columns; returns the handle."""
    s = ctypes.c_void_p()
    check(lib.dctr_schema_new(ctypes.byref(s)))
    try:
        check(lib.dctr_schema_set_label(s, label.encode()))
        for fc in columns:
            if isinstance(fc, SparseFeat):
                f = _lib.SparseFeatC()
                _sparse_c(fc, f)
                check(lib.dctr_schema_add_sparse(s, ctypes.byref(f)))
            elif isinstance(fc, VarLenSparseFeat):
                f = _lib.VarlenFeatC()
                lib.dctr_varlen_feat_default(ctypes.byref(f), fc.name.encode(), int(fc.maxlen))
                _sparse_c(fc.sparsefeat, f.sparse)
                f.combiner = _COMBINERS[fc.combiner]
                f.length_name = _b(fc.length_name)
                f.weight_name = _b(fc.weight_name)
                f.weight_norm = int(bool(fc.weight_norm))
                check(lib.dctr_schema_add_varlen(s, ctypes.byref(f)))
            elif isinstance(fc, DenseFeat):
                f = _lib.DenseFeatC()
                lib.dctr_dense_feat_default(ctypes.byref(f), fc.name.encode())
                f.name = fc.name.encode()  # kept alive by the struct, unlike the temporary argument
                f.dimension = int(fc.dimension)
                f.transform = _TRANSFORMS[fc.transform]
                f.fill_value = float(fc.fill_value)
                check(lib.dctr_schema_add_dense(s, ctypes.byref(f)))
            else:
                raise TypeError("not a feature column: %r" % (fc,))
        check(lib.dctr_schema_validate(s))
    except Exception:
        lib.dctr_schema_free(s)
        raise
    return s


def _column(X, name):
    try:
        v = X[name]
    except KeyError:
        raise KeyError("X has no column '%s'" % name) from None
    return v.to_numpy() if hasattr(v, "to_numpy") else v


def _text(x):
    """One sparse value as the CSV text would hold it (None = missing)."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return None
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return str(int(x)).encode()
    if isinstance(x, bytes):
        return x
    return str(x).encode()


def _values(vals, keep):
    """Integer ids when every value is an integer, else text (ctypes char* array)."""
    a = np.asarray(vals)
    if a.dtype.kind in "iub":
        ids = np.ascontiguousarray(a, dtype=np.int64)
        keep.append(ids)
        return ids.ctypes.data_as(P(ctypes.c_int64)), None
    txt = (ctypes.c_char_p * max(len(a), 1))(*[_text(x) for x in a])
    keep.append(txt)
    return None, ctypes.cast(txt, P(ctypes.c_char_p))


def column_info(schema, i):
    """Everything the C schema knows about column i (dctr_schema_column_info) as a dict."""
    info = _lib.ColumnInfo()
    info.struct_size = ctypes.sizeof(info)
    check(lib.dctr_schema_column_info(schema, i, ctypes.byref(info)))
    out = {}
    for name, _ in _lib.ColumnInfo._fields_[1:]:
        v = getattr(info, name)
        out[name] = v.decode() if isinstance(v, bytes) else v
    out["kind"] = ("sparse", "dense", "varlen")[info.kind]
    return out


def _seq(r):
    if r is None:
        return []
    return [x for x in r.split("|") if x] if isinstance(r, str) else list(r)


def _varlen(v, keep, w=None):
    """Rows of sequences (or a padded 2-D int array, 0 = padding) -> offsets and flat values; w:
    the rows' per-value weights in the same shape (a weighted varlen column)."""
    if isinstance(v, np.ndarray) and v.ndim == 2 and v.dtype.kind in "iu":
        rows = [r[r != 0] for r in v]
        wrows = None if w is None else [np.asarray(wr)[r != 0] for r, wr in zip(v, w)]
    else:
        rows = [_seq(r) for r in v]
        wrows = None if w is None else [_seq(wr) for wr in w]
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(r) for r in rows])
    flat = [x for r in rows for x in r]
    keep.append(offsets)
    weights = None
    if wrows is not None:
        if any(len(a) != len(b) for a, b in zip(rows, wrows)):
            raise ValueError("a weighted varlen column needs one weight per value")
        wf = np.ascontiguousarray(np.asarray([float(x) for r in wrows for x in r] or [0.0], dtype=np.float32))
        keep.append(wf)
        weights = wf.ctypes.data_as(P(ctypes.c_float))
    if flat and all(isinstance(x, (int, np.integer)) for x in flat):
        ids, txt = _values(np.asarray(flat, dtype=np.int64), keep)
    else:
        ids, txt = _values(np.asarray(flat, dtype=object), keep)
    return offsets.ctypes.data_as(P(ctypes.c_int64)), ids, txt, weights


def make_arrays(schema, X, y=None, sample_weight=None):
    """X (+ labels) as a dctr_arrays for the schema's columns; returns (arrays, keepalive)."""
    keep = []
    ncols = lib.dctr_schema_num_columns(schema)
    cols = (_lib.ArrayColumn * ncols)()
    n = None
    for i in range(ncols):
        name = lib.dctr_schema_column_name(schema, i).decode()
        kind = lib.dctr_schema_column_kind(schema, i)
        v = _column(X, name)
        c = cols[i]
        c.column = i
        if kind == _KIND_DENSE:
            a = np.ascontiguousarray(np.asarray(v, dtype=np.float32).reshape(len(v), -1))
            keep.append(a)
            c.values = a.ctypes.data_as(P(ctypes.c_float))
        elif kind == _KIND_SPARSE:
            c.ids, c.strings = _values(v, keep)
        else:
            wname = column_info(schema, i)["weight_name"]
            c.offsets, c.ids, c.strings, c.weights = _varlen(v, keep, _column(X, wname) if wname else None)
        if n is not None and len(v) != n:
            raise ValueError("column '%s' has %d rows, the others %d" % (name, len(v), n))
        n = len(v)
    a = _lib.Arrays()
    lib.dctr_arrays_init(ctypes.byref(a))
    a.num_rows = n or 0
    a.columns = cols
    a.num_columns = ncols
    keep.append(cols)
    if y is not None:
        lab = np.ascontiguousarray(np.asarray(y, dtype=np.float32).reshape(-1))
        if len(lab) != a.num_rows:
            raise ValueError("y has %d rows, X %d" % (len(lab), a.num_rows))
        keep.append(lab)
        a.labels = lab.ctypes.data_as(P(ctypes.c_float))
    if sample_weight is not None:
        w = np.ascontiguousarray(np.asarray(sample_weight, dtype=np.float32).reshape(-1))
        keep.append(w)
        a.sample_weights = w.ctypes.data_as(P(ctypes.c_float))
    return a, keep


class _Dataset:
    def __init__(self, schema, X, y=None):
        a, keep = make_arrays(schema, X, y)
        self.handle = ctypes.c_void_p()
        check(lib.dctr_dataset_from_arrays(schema, ctypes.byref(a), ctypes.byref(self.handle)))
        del keep

    def __del__(self):
        if getattr(self, "handle", None):
            lib.dctr_dataset_free(self.handle)
            self.handle = None


class Estimator:
    """Shared by the model classes. Parameters left at None keep the base configuration: DeepCTR's
    defaults (defaults="deepctr") or the library's recommended settings (defaults="recommended",
    what `deepctr train` uses)."""
    model_type = "deepfm"

    def __init__(self, linear_feature_columns, dnn_feature_columns=None, fm_group=None, dnn_hidden_units=None,
                 l2_reg_linear=None, l2_reg_embedding=None, l2_reg_dnn=None, seed=1024, dnn_dropout=None,
                 dnn_activation=None, dnn_use_bn=None, task="binary", optimizer=None, learning_rate=None,
                 ffm_k=None, defaults="deepctr", threads=1, label="label"):
        self.linear_feature_columns = list(linear_feature_columns)
        self.dnn_feature_columns = list(dnn_feature_columns if dnn_feature_columns is not None
                                        else linear_feature_columns)
        self.params = dict(fm_group=fm_group, dnn_hidden_units=dnn_hidden_units, l2_reg_linear=l2_reg_linear,
                           l2_reg_embedding=l2_reg_embedding, l2_reg_dnn=l2_reg_dnn, seed=seed,
                           dnn_dropout=dnn_dropout, dnn_activation=dnn_activation, dnn_use_bn=dnn_use_bn,
                           task=task, optimizer=optimizer, learning_rate=learning_rate, ffm_k=ffm_k)
        self.defaults = defaults
        self.threads = threads
        self.label = label
        self._model = None
        self._predictor = None
        self.history = None

    # ---- configuration ----
    def _columns(self):
        seen, out = set(), []
        for fc in self.linear_feature_columns + self.dnn_feature_columns:
            if fc.name not in seen:
                seen.add(fc.name)
                out.append(fc)
        return out

    def _config(self, keep):
        p = self.params
        cfg = _lib.ModelConfig()
        t = _TYPES[self.model_type]
        if self.defaults == "recommended":
            lib.dctr_model_config_recommended(ctypes.byref(cfg), t)
        else:
            lib.dctr_model_config_default(ctypes.byref(cfg), t)
        cfg.task = _TASKS[p["task"]]
        cfg.seed = int(p["seed"])
        all_names = [fc.name for fc in self._columns()]
        for attr, cols in (("linear_columns", self.linear_feature_columns),
                           ("dnn_columns", self.dnn_feature_columns)):
            names = [fc.name for fc in cols]
            if sorted(names) != sorted(all_names):  # every column = NULL, as the CLI passes
                ptr, arr = _names_array(names)
                keep.append(arr)
                setattr(cfg, attr, ptr)
                setattr(cfg, "num_" + attr, len(names))
        if p["fm_group"] is not None:
            groups = [p["fm_group"]] if isinstance(p["fm_group"], str) else list(p["fm_group"])
            ptr, arr = _names_array(groups)
            keep.append(arr)
            cfg.fm_groups, cfg.num_fm_groups = ptr, len(groups)
        if p["dnn_hidden_units"] is not None:
            units = (ctypes.c_int32 * max(len(p["dnn_hidden_units"]), 1))(*p["dnn_hidden_units"])
            keep.append(units)
            cfg.hidden_units, cfg.num_hidden = units, len(p["dnn_hidden_units"])
        for key, attr, conv in (("l2_reg_linear", "l2_linear", float), ("l2_reg_embedding", "l2_embedding", float),
                                ("l2_reg_dnn", "l2_dnn", float), ("dnn_dropout", "dropout", float),
                                ("dnn_use_bn", "use_bn", int), ("ffm_k", "ffm_k", int)):
            if p[key] is not None:
                setattr(cfg, attr, conv(p[key]))
        if p["dnn_activation"] is not None:
            cfg.activation = _ACTS[p["dnn_activation"]]
        if p["optimizer"] is not None and _OPTS[p["optimizer"]] != cfg.optimizer.kind:
            lib.dctr_optimizer_config_default(ctypes.byref(cfg.optimizer), _OPTS[p["optimizer"]])
        if p["learning_rate"] is not None:
            cfg.optimizer.learning_rate = float(p["learning_rate"])
        return cfg

    def _build(self, X, y):
        schema = build_schema(self._columns(), self.label)
        try:
            a, keep = make_arrays(schema, X, y)
            check(lib.dctr_schema_fit_arrays(schema, ctypes.byref(a)))
            keep2 = []
            cfg = self._config(keep2)
            model = ctypes.c_void_p()
            check(lib.dctr_model_new(schema, ctypes.byref(cfg), ctypes.byref(model)))
            self._model = model
        finally:
            lib.dctr_schema_free(schema)

    @property
    def schema(self):
        return lib.dctr_model_schema(self._model)

    # ---- training ----
    def fit(self, x, y, batch_size=256, epochs=1, verbose=1, validation_split=0.0, validation_data=None,
            shuffle=True, early_stop=0, monitor=None, checkpoint=None):
        """Trains (building the columns' encoders from x on the first call); returns a dict of
        per-epoch metrics like Keras's History.history ("loss", "auc", "val_auc", ...).
        early_stop: patience in epochs on `monitor` (default val AUC / val MSE), restoring the best."""
        if self._model is None:
            self._build(x, y)
        train = _Dataset(self.schema, x, y)
        valid = _Dataset(self.schema, *validation_data) if validation_data is not None else None
        fo = _lib.FitOptions()
        lib.dctr_fit_options_default(ctypes.byref(fo))
        fo.epochs, fo.batch_size, fo.shuffle = int(epochs), int(batch_size), int(bool(shuffle))
        fo.validation_split = 0.0 if valid else float(validation_split)
        if valid:
            fo.validation = valid.handle
        regression = self.params["task"] == "regression"
        fo.monitor = _lib.METRICS.index(monitor) if monitor else (2 if regression else 1)
        fo.patience = int(early_stop)
        fo.threads = int(self.threads)
        fo.checkpoint_path = _b(checkpoint)
        hist = _lib.History()
        try:
            check(lib.dctr_model_fit(self._model, train.handle, ctypes.byref(fo), ctypes.byref(hist)))
            self.history = self._history(hist, verbose)
        finally:
            lib.dctr_history_free(ctypes.byref(hist))
        return self.history

    @staticmethod
    def _history(h, verbose):
        out = {}
        for e in range(h.epochs_run):
            for k, m in enumerate(_lib.METRICS):
                for prefix, arr in (("", h.train), ("val_", h.valid)):
                    v = arr[e * _lib.METRIC_COUNT + k]
                    if not np.isnan(v):
                        out.setdefault(prefix + m, []).append(v)
            if verbose:
                print("epoch %d: %s" % (e + 1, "  ".join("%s %.5f" % (k, v[e]) for k, v in out.items()
                                                       if len(v) > e)))
        out["best_epoch"] = h.best_epoch
        return out

    # ---- prediction ----
    def _pred(self):
        if self._model is None:
            raise RuntimeError("the model is not trained or loaded")
        if self._predictor is None:
            p = ctypes.c_void_p()
            check(lib.dctr_predictor_new(self._model, 4096, ctypes.byref(p)))
            self._predictor = p
        return self._predictor

    def predict_proba(self, x, logits=False):
        """P(y = 1) per row (regression: the predicted value), float32 array of shape (n,); with
        logits=True also the raw logits. Typed serving path: exactly the C predictions."""
        a, keep = make_arrays(self.schema, x)
        n = a.num_rows
        prob = np.empty(n, dtype=np.float32)
        logit = np.empty(n, dtype=np.float32)
        if n:
            check(lib.dctr_predictor_predict_arrays(self._pred(), ctypes.byref(a), prob.ctypes.data_as(P(ctypes.c_float)),
                                                    logit.ctypes.data_as(P(ctypes.c_float))))
        del keep
        return (prob, logit) if logits else prob

    predict = predict_proba

    def evaluate(self, x, y):
        """Metrics on labelled data: logloss, auc, accuracy (binary), mse, rmse; loss."""
        ds = _Dataset(self.schema, x, y)
        v = (ctypes.c_double * _lib.METRIC_COUNT)()
        check(lib.dctr_model_evaluate(self._model, ds.handle, v))
        return {m: v[k] for k, m in enumerate(_lib.METRICS) if not np.isnan(v[k])}

    # ---- files ----
    def save(self, path, with_optimizer=False):
        check(lib.dctr_model_save(self._model, str(path).encode(), int(bool(with_optimizer))))

    @classmethod
    def load(cls, path):
        """A model file written by save() or `deepctr train`; the returned object predicts,
        evaluates and trains on (its feature columns are the file's)."""
        m = ctypes.c_void_p()
        check(lib.dctr_model_load(str(path).encode(), ctypes.byref(m)))
        kind = lib.dctr_model_get_type(m)
        klass = {v: k for k, v in _TYPES.items()}[kind]
        obj = object.__new__(_CLASSES[klass])
        obj.linear_feature_columns, obj.dnn_feature_columns = [], []
        obj.params = {"task": "regression" if lib.dctr_model_get_task(m) == 1 else "binary"}
        obj.defaults, obj.threads, obj.label = "deepctr", 1, "label"
        obj._model, obj._predictor, obj.history = m, None, None
        return obj

    def columns_info(self):
        """The loaded / trained model's input columns: kind, dtype, vocabulary size, table, group,
        transform and fitted statistics, ... (one dict per column)."""
        s = self.schema
        return [column_info(s, i) for i in range(lib.dctr_schema_num_columns(s))]

    def num_parameters(self):
        return lib.dctr_model_num_parameters(self._model)

    def get_embeddings(self, table):
        t = lib.dctr_model_find_table(self._model, table.encode())
        rows, dim = ctypes.c_int64(), ctypes.c_int32()
        check(lib.dctr_model_table_shape(self._model, t, ctypes.byref(rows), ctypes.byref(dim)))
        out = np.empty((rows.value, dim.value), dtype=np.float32)
        check(lib.dctr_model_get_embeddings(self._model, t, 0, rows.value, out.ctypes.data_as(P(ctypes.c_float))))
        return out

    def set_embeddings(self, table, values, first=0):
        t = lib.dctr_model_find_table(self._model, table.encode())
        v = np.ascontiguousarray(values, dtype=np.float32)
        check(lib.dctr_model_set_embeddings(self._model, t, int(first), v.shape[0], v.ctypes.data_as(P(ctypes.c_float))))

    def __del__(self):
        if getattr(self, "_predictor", None):
            lib.dctr_predictor_free(self._predictor)
            self._predictor = None
        if getattr(self, "_model", None):
            lib.dctr_model_free(self._model)
            self._model = None


class DeepFM(Estimator):
    """DeepFM: linear + FM + DNN (deepctr.models.DeepFM)."""
    model_type = "deepfm"


class FM(Estimator):
    """Linear + FM (DeepFM without the DNN)."""
    model_type = "fm"


class LR(Estimator):
    """Logistic (or linear) regression on the columns."""
    model_type = "lr"


class FFM(Estimator):
    """Field-aware FM over the columns (ffm_k factors per field pair)."""
    model_type = "ffm"


class DeepFFM(Estimator):
    """FFM interactions + DNN."""
    model_type = "deepffm"


_CLASSES = {"deepfm": DeepFM, "fm": FM, "lr": LR, "ffm": FFM, "deepffm": DeepFFM}

"""DeepCTR-Torch DeepFM -> libdeepctr model: a trained `deepctr_torch.models.DeepFM` (the module,
or its state_dict with its feature columns) becomes a libdeepctr DeepFM / FM / LR whose
predictions equal DeepCTR-Torch's (docs/python.md "Converting DeepCTR-Torch models").

    from libdeepctr.convert_torch import convert_deepfm
    m = convert_deepfm(torch_model)              # a libdeepctr.DeepFM (or FM / LR) estimator
    m.save("model.dctr")                         # served by the C library, `deepctr predict`, ...

Command line: python3 -m libdeepctr.convert_torch --help.

What maps to what (every torch tensor is used once, every libdeepctr tensor set once, or the
conversion stops with a message naming the tensor):
  embedding_dict.<table>.weight [V, k]            -> embedding/<table>
  linear_model.embedding_dict.<table>.weight      -> linear/<table>
  linear_model.weight [dense width, 1]            -> linear/dense_kernel (rows in schema order)
  dnn.linears.<i>.weight [out, in] / .bias        -> dnn/<i>/kernel [in x out] (transposed) / bias
  dnn.bn.<i>.weight / bias / running_mean / running_var -> dnn/<i>/gamma / beta / moving_*
  dnn.activation_layers.<i>.weight (PReLU)        -> dnn/<i>/alpha (one shared alpha broadcast)
  dnn_linear.weight [1, h]                        -> output/kernel
  out.bias                                        -> bias
The model uses torch's batch-norm eps (1e-5 unless changed) through the config's bn_eps.

Refused (no exact equivalent): multiclass task, Dice (its torch form has an affine BN and fails
on DeepFM's 2-D input anyway), activations other than relu / sigmoid / tanh / linear / prelu, BN
layers with different eps or without affine / running statistics, use_hash columns (DeepCTR-Torch
does not hash), unknown or missing tensors. One data-dependent difference cannot be refused here:
a max-pooled varlen row with NO valid id gives about -1e9 in DeepCTR-Torch and 0 in libdeepctr.
"""
import argparse
import ctypes
import json
import sys

import numpy as np

from . import _lib, models
from ._lib import P, check, lib
from .features import DEFAULT_GROUP_NAME, DenseFeat, SparseFeat, VarLenSparseFeat

_ACTS = {"relu": 0, "sigmoid": 1, "tanh": 2, "linear": 3, "prelu": 4}
_MODULE_ACTS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Identity": "linear", "PReLU": "prelu"}


class ConversionError(ValueError):
    """The torch model has something libdeepctr cannot represent exactly."""


# ---------------- feature columns ----------------

def _kind(fc):
    """'sparse' / 'varlen' / 'dense' for DeepCTR-Torch's namedtuples (by class name, so torch's
    package need not be importable), libdeepctr's own columns, or JSON dicts {"type": ...}."""
    if isinstance(fc, dict):
        return fc["type"]
    name = type(fc).__name__
    return {"SparseFeat": "sparse", "VarLenSparseFeat": "varlen", "DenseFeat": "dense"}.get(name) or \
        _fail("not a feature column: %r" % (fc,))


def _fail(msg):
    raise ConversionError(msg)


def _get(fc, key, default=None):
    return fc.get(key, default) if isinstance(fc, dict) else getattr(fc, key, default)


def _to_libdeepctr(fc):
    """A libdeepctr feature column equal to a DeepCTR-Torch one: integer ids used as table rows,
    no hashing, every column in one group (DeepCTR-Torch's FM takes all of them together)."""
    kind = _kind(fc)
    if kind == "dense":
        return DenseFeat(_get(fc, "name"), int(_get(fc, "dimension", 1)))
    sp = _get(fc, "sparsefeat", fc) if kind == "varlen" else fc  # a JSON varlen may be flat
    name = _get(sp, "name")
    if _get(sp, "use_hash", False):
        _fail("column '%s': use_hash (DeepCTR-Torch does not hash: its ids are table rows already)" % name)
    V = _get(sp, "vocabulary_size")
    k = _get(sp, "embedding_dim", 4)
    if k == "auto":
        k = 6 * int(pow(V, 0.25))
    s = SparseFeat(name, vocabulary_size=int(V), embedding_dim=int(k), dtype="int64",
                   embedding_name=_get(sp, "embedding_name") or name, group_name=DEFAULT_GROUP_NAME)
    if kind == "sparse":
        return s
    return VarLenSparseFeat(s, int(_get(fc, "maxlen")), combiner=_get(fc, "combiner", "mean"),
                            length_name=_get(fc, "length_name"))


def _columns_of_module(model):
    lm = model.linear_model
    linear = list(lm.sparse_feature_columns) + list(lm.dense_feature_columns) + \
        list(lm.varlen_sparse_feature_columns)
    return linear, list(model.dnn_feature_columns)


# ---------------- the torch model's structure ----------------

def _structure_of_module(model):
    """use_fm, use_dnn, activation, bn eps / momentum, task of a DeepFM module."""
    if type(model).__name__ != "DeepFM":
        _fail("only DeepCTR-Torch's DeepFM converts (got %s)" % type(model).__name__)
    out = dict(use_fm=bool(model.use_fm), task=model.out.task, use_bias=bool(model.out.use_bias),
               activation="relu", bn_eps=None, bn_momentum=None, dropout=0.0)
    if model.use_dnn:
        acts = {type(a).__name__ for a in model.dnn.activation_layers}
        if len(acts) != 1:
            _fail("DNN layers with different activations: %s" % sorted(acts))
        act = acts.pop()
        if act not in _MODULE_ACTS:
            _fail("DNN activation %s has no libdeepctr equivalent (relu, sigmoid, tanh, linear, prelu)%s"
                  % (act, "; Dice's torch form normalises with an affine BN" if act == "Dice" else ""))
        out["activation"] = _MODULE_ACTS[act]
        out["dropout"] = float(model.dnn.dropout_rate)
        if model.dnn.use_bn:
            bns = list(model.dnn.bn)
            eps = {float(b.eps) for b in bns}
            if len(eps) != 1:
                _fail("batch-norm layers with different eps %s" % sorted(eps))
            if not all(b.affine and b.track_running_stats for b in bns):
                _fail("batch norm without affine parameters or running statistics")
            out["bn_eps"] = eps.pop()
            mom = bns[0].momentum
            out["bn_momentum"] = None if mom is None else 1.0 - float(mom)
    return out


def _hidden_units(sd):
    units, i = [], 0
    while "dnn.linears.%d.weight" % i in sd:
        units.append(int(sd["dnn.linears.%d.weight" % i].shape[0]))
        i += 1
    return units


def _numpy_state(state_dict):
    return {k: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v, dtype=np.float64)
            for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}


# ---------------- conversion ----------------

def _schema_columns(linear, dnn):
    """DNN columns first, in their order (so the DNN input's sparse / varlen / dense blocks come
    out in DeepCTR-Torch's order), then linear-only ones."""
    seen, out = set(), []
    for fc in list(dnn) + list(linear):
        c = _to_libdeepctr(fc)
        if c.name not in seen:
            seen.add(c.name)
            out.append(c)
    return out


def _config(kind, st, units, linear_names, dnn_names, all_names, keep):
    cfg = _lib.ModelConfig()
    lib.dctr_model_config_default(ctypes.byref(cfg), models._TYPES[kind])
    if st["task"] not in models._TASKS:
        _fail("task '%s' (libdeepctr has binary and regression)" % st["task"])
    cfg.task = models._TASKS[st["task"]]
    cfg.use_bias = int(st["use_bias"])
    for attr, names in (("linear_columns", linear_names), ("dnn_columns", dnn_names)):
        if sorted(names) != sorted(all_names):
            ptr, arr = models._names_array(names)
            keep.append(arr)
            setattr(cfg, attr, ptr)
            setattr(cfg, "num_" + attr, len(names))
    if not st["use_fm"] and kind == "deepfm":
        ptr, arr = models._names_array([])  # an explicitly empty FM part
        keep.append(arr)
        cfg.fm_groups, cfg.num_fm_groups = ptr, 0
    if kind == "deepfm":
        arr = (ctypes.c_int32 * max(len(units), 1))(*units)
        keep.append(arr)
        cfg.hidden_units, cfg.num_hidden = arr, len(units)
        cfg.activation = _ACTS[st["activation"]]
        cfg.dropout = float(st.get("dropout", 0.0))
        if st["bn_eps"] is not None:
            cfg.use_bn = 1
            cfg.bn_eps = float(st["bn_eps"])
            if st["bn_momentum"] is not None:
                cfg.bn_momentum = float(st["bn_momentum"])
    return cfg


def _torch_tensors(sd, schema_cols, linear, units, st):
    """libdeepctr tensor name -> float32 array, from the torch state (keys consumed from sd)."""
    t = {}

    def take(key):
        if key not in sd:
            _fail("the state_dict has no '%s'" % key)
        return sd.pop(key)

    tables = {}
    for fc in schema_cols:
        sp = fc.sparsefeat if isinstance(fc, VarLenSparseFeat) else fc
        if not isinstance(fc, DenseFeat):
            tables.setdefault(sp.embedding_name, sp)
    for name in tables:
        for prefix, tname in (("embedding_dict.", "embedding/"), ("linear_model.embedding_dict.", "linear/")):
            key = prefix + name + ".weight"
            if key in sd:
                t[tname + name] = take(key)
    lin_dense = [fc for fc in linear if _kind(fc) == "dense"]
    if lin_dense:
        w = take("linear_model.weight").reshape(-1)
        pos, rows = 0, {}
        for fc in lin_dense:  # torch rows follow the linear columns' order; ours the schema's
            d = int(_get(fc, "dimension", 1))
            rows[_to_libdeepctr(fc).name] = w[pos:pos + d]
            pos += d
        t["linear/dense_kernel"] = np.concatenate([rows[fc.name] for fc in schema_cols
                                                   if isinstance(fc, DenseFeat) and fc.name in rows])
    for i, u in enumerate(units):
        t["dnn/%d/kernel" % i] = take("dnn.linears.%d.weight" % i).T
        t["dnn/%d/bias" % i] = take("dnn.linears.%d.bias" % i)
        if st["bn_eps"] is not None:
            for src, dst in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                             ("running_var", "moving_variance")):
                t["dnn/%d/%s" % (i, dst)] = take("dnn.bn.%d.%s" % (i, src))
        if st["activation"] == "prelu":
            a = take("dnn.activation_layers.%d.weight" % i).reshape(-1)
            t["dnn/%d/alpha" % i] = np.broadcast_to(a, (u,)) if a.size in (1, u) else \
                _fail("PReLU of layer %d has %d parameters for %d units" % (i, a.size, u))
    if units:
        t["output/kernel"] = take("dnn_linear.weight").reshape(-1)
    if st["use_bias"]:
        t["bias"] = take("out.bias").reshape(-1)
    if sd:
        _fail("tensors of the torch model that libdeepctr's DeepFM has no place for: %s" % sorted(sd))
    return t


def _set_tensors(model, tensors):
    names = [lib.dctr_model_tensor_name(model, i).decode() for i in range(lib.dctr_model_num_tensors(model))]
    missing = [n for n in names if n not in tensors]
    extra = [n for n in tensors if n not in names]
    if missing or extra:
        _fail("tensor mismatch: libdeepctr needs %s not in the torch model; torch gives %s not in "
              "libdeepctr's" % (missing, extra))
    for n in names:
        rows, cols = ctypes.c_int64(), ctypes.c_int64()
        check(lib.dctr_model_tensor_shape(model, n.encode(), ctypes.byref(rows), ctypes.byref(cols)))
        v = np.ascontiguousarray(tensors[n], dtype=np.float32)
        if v.size != rows.value * cols.value:
            _fail("tensor '%s': torch has %s, libdeepctr needs [%d x %d]" % (n, v.shape, rows.value, cols.value))
        check(lib.dctr_model_set_tensor(model, n.encode(), v.reshape(-1).ctypes.data_as(P(ctypes.c_float)),
                                        v.size))


def _fit_empty(schema):
    """Freezes the schema. Nothing is fitted (ids are table rows, dense values raw, no
    transform): one all-zero row, since fitting needs a row."""
    a = _lib.Arrays()
    lib.dctr_arrays_init(ctypes.byref(a))
    ncols = lib.dctr_schema_num_columns(schema)
    cols = (_lib.ArrayColumn * ncols)()
    zero = np.zeros(2, dtype=np.int64)
    for i in range(ncols):
        cols[i].column = i
        kind = lib.dctr_schema_column_kind(schema, i)
        if kind == models._KIND_DENSE:
            cols[i].values = (ctypes.c_float * max(1, models.column_info(schema, i)["dimension"]))()
        else:
            cols[i].ids = zero.ctypes.data_as(P(ctypes.c_int64))
            if kind == models._KIND_VARLEN:
                cols[i].offsets = zero.ctypes.data_as(P(ctypes.c_int64))
    a.columns, a.num_columns, a.num_rows = cols, ncols, 1
    check(lib.dctr_schema_fit_arrays(schema, ctypes.byref(a)))


def convert_deepfm(model, linear_feature_columns=None, dnn_feature_columns=None, use_fm=True,
                   dnn_activation="relu", task="binary", bn_eps=1e-5, path=None):
    """A libdeepctr estimator (DeepFM, or FM / LR when the torch model has no DNN / no FM either)
    with the weights of a DeepCTR-Torch DeepFM. model: the module (everything is read from it),
    or its state_dict: then give linear_feature_columns and dnn_feature_columns (DeepCTR-Torch's
    or JSON-like dicts) and, when not DeepFM's defaults, use_fm, dnn_activation, task and the
    BatchNorm1d eps. path: also save the model there. Raises ConversionError for what cannot be
    represented exactly."""
    if hasattr(model, "state_dict") and callable(model.state_dict):
        st = _structure_of_module(model)
        linear, dnn = _columns_of_module(model)
        sd = _numpy_state(model.state_dict())
    else:
        if linear_feature_columns is None or dnn_feature_columns is None:
            _fail("a state_dict needs linear_feature_columns and dnn_feature_columns")
        linear, dnn = list(linear_feature_columns), list(dnn_feature_columns)
        sd = _numpy_state(model)
        if dnn_activation not in _ACTS:
            _fail("DNN activation '%s' has no libdeepctr equivalent" % dnn_activation)
        st = dict(use_fm=bool(use_fm), task=task, use_bias="out.bias" in sd, activation=dnn_activation,
                  bn_eps=float(bn_eps) if "dnn.bn.0.weight" in sd else None, bn_momentum=None)
    units = _hidden_units(sd)
    if units and not dnn:
        _fail("the state_dict has DNN layers but no dnn_feature_columns")
    kind = "deepfm" if units else ("fm" if st["use_fm"] else "lr")
    schema_cols = _schema_columns(linear, dnn)
    all_names = [fc.name for fc in schema_cols]
    schema = models.build_schema(schema_cols)
    handle = ctypes.c_void_p()
    try:
        _fit_empty(schema)
        keep = []
        cfg = _config(kind, st, units, [_to_libdeepctr(fc).name for fc in linear],
                      [_to_libdeepctr(fc).name for fc in dnn], all_names, keep)
        check(lib.dctr_model_new(schema, ctypes.byref(cfg), ctypes.byref(handle)))
    finally:
        lib.dctr_schema_free(schema)
    est = object.__new__(models._CLASSES[kind])
    est.linear_feature_columns = [c for c in schema_cols if c.name in {_to_libdeepctr(f).name for f in linear}]
    est.dnn_feature_columns = [c for c in schema_cols if c.name in {_to_libdeepctr(f).name for f in dnn}]
    est.params = {"task": st["task"]}
    est.defaults, est.threads, est.label = "deepctr", 1, "label"
    est._model, est._predictor, est.history = handle, None, None
    _set_tensors(handle, _torch_tensors(sd, schema_cols, linear, units, st))
    if path is not None:
        est.save(path)
    return est


# ---------------- command line ----------------

def _main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python3 -m libdeepctr.convert_torch",
        description="Convert a trained DeepCTR-Torch DeepFM into a libdeepctr model file (docs/python.md).")
    ap.add_argument("input", help="torch.save() file: the whole DeepFM module, or its state_dict (then --columns)")
    ap.add_argument("output", help="libdeepctr model file to write")
    ap.add_argument("--columns", help="JSON file {\"linear\": [...], \"dnn\": [...]} of feature columns, each "
                    "{\"type\": \"sparse\"|\"dense\"|\"varlen\", \"name\", \"vocabulary_size\", \"embedding_dim\", "
                    "\"embedding_name\", \"dimension\", \"maxlen\", \"combiner\", \"length_name\"}; needed for a "
                    "state_dict, and may carry \"use_fm\", \"dnn_activation\", \"task\", \"bn_eps\"")
    ap.add_argument("--deepctr-torch", metavar="DIR", action="append", default=[],
                    help="add DIR to sys.path (to unpickle a whole module: DeepCTR-Torch and its imports)")
    args = ap.parse_args(argv)
    sys.path[:0] = args.deepctr_torch
    import torch
    obj = torch.load(args.input, map_location="cpu")
    kw = {}
    if args.columns:
        with open(args.columns) as f:
            spec = json.load(f)
        kw = dict(linear_feature_columns=spec["linear"], dnn_feature_columns=spec["dnn"])
        for k in ("use_fm", "dnn_activation", "task", "bn_eps"):
            if k in spec:
                kw[k] = spec[k]
    try:
        m = convert_deepfm(obj, path=args.output, **kw)
    except ConversionError as e:
        print("convert_torch: cannot convert exactly: %s" % e, file=sys.stderr)
        return 2
    print("wrote %s: %s, %d parameters" % (args.output, type(m).__name__, m.num_parameters()))
    return 0


if __name__ == "__main__":
    sys.exit(_main())

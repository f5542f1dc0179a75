"""ctypes bindings of the libdeepctr C API (include/deepctr/*.h): the shared library, the structs
the Python side fills, and status checking (DCTR_OK or an exception with dctr_last_error())."""
import ctypes
import ctypes.util
import os
import sys

c_int, c_int32, c_int64, c_uint32, c_uint64 = ctypes.c_int, ctypes.c_int32, ctypes.c_int64, ctypes.c_uint32, ctypes.c_uint64
c_float, c_double, c_char_p, c_void_p, c_char = ctypes.c_float, ctypes.c_double, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_char
P = ctypes.POINTER


class OptimizerConfig(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("kind", c_int), ("learning_rate", c_double), ("beta1", c_double),
                ("beta2", c_double), ("epsilon", c_double), ("momentum", c_double), ("rho", c_double),
                ("initial_accumulator", c_double), ("l1", c_double), ("l2", c_double), ("lr_power", c_double),
                ("clipnorm", c_double)]


class ModelConfig(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("type", c_int), ("task", c_int),
                ("linear_columns", P(c_char_p)), ("num_linear_columns", c_int32),
                ("dnn_columns", P(c_char_p)), ("num_dnn_columns", c_int32),
                ("fm_groups", P(c_char_p)), ("num_fm_groups", c_int32),
                ("hidden_units", P(c_int32)), ("num_hidden", c_int32),
                ("activation", c_int), ("use_bn", c_int), ("dropout", c_float), ("l2_linear", c_float),
                ("l2_embedding", c_float), ("l2_dnn", c_float), ("use_bias", c_int), ("seed", c_uint64),
                ("ffm_k", c_int32), ("ffm_linear", c_int), ("ffm_normalize", c_int),
                ("optimizer", OptimizerConfig), ("bn_eps", c_float), ("bn_momentum", c_float),
                ("linear_lr_scale", c_float)]  # the whole C struct: the *_default functions write all of it


class FitOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("epochs", c_int32), ("batch_size", c_int32), ("shuffle", c_int),
                ("shuffle_seed", c_uint64), ("validation_split", c_double), ("validation", c_void_p),
                ("monitor", c_int), ("monitor_mode", c_int), ("patience", c_int32), ("min_delta", c_double),
                ("restore_best", c_int), ("checkpoint_path", c_char_p), ("threads", c_int32),
                ("progress_every", c_int32), ("progress", c_void_p), ("progress_user", c_void_p)]


class History(ctypes.Structure):
    _fields_ = [("epochs_run", c_int32), ("best_epoch", c_int32), ("train", P(c_double)),
                ("valid", P(c_double)), ("seconds", P(c_double))]


class SparseFeatC(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("name", c_char_p), ("vocabulary_size", c_int64),
                ("embedding_dim", c_int32), ("use_hash", c_int), ("vocabulary_path", c_char_p), ("dtype", c_int),
                ("init_std", c_float), ("embedding_name", c_char_p), ("group_name", c_char_p),
                ("trainable", c_int), ("oov_policy", c_int), ("min_count", c_int64), ("oov_buckets", c_int64)]


class VarlenFeatC(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("sparse", SparseFeatC), ("maxlen", c_int32), ("combiner", c_int),
                ("length_name", c_char_p), ("weight_name", c_char_p), ("weight_norm", c_int),
                ("separator", c_char)]


class DenseFeatC(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("name", c_char_p), ("dimension", c_int32), ("transform", c_int),
                ("fill_value", c_float), ("separator", c_char)]


class ColumnInfo(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("name", c_char_p), ("kind", c_int), ("dtype", c_int), ("use_hash", c_int),
                ("vocabulary_size", c_int64), ("embedding_dim", c_int32), ("embedding_name", c_char_p),
                ("group_name", c_char_p), ("trainable", c_int), ("oov_policy", c_int), ("vocabulary_path", c_char_p),
                ("fitted_values", c_int64), ("first_id", c_int64), ("oov_buckets", c_int64), ("maxlen", c_int32),
                ("combiner", c_int), ("length_name", c_char_p), ("weight_name", c_char_p), ("dimension", c_int32),
                ("transform", c_int), ("fill_value", c_float), ("stat_min", c_double), ("stat_max", c_double),
                ("stat_mean", c_double), ("stat_std", c_double)]


class ArrayColumn(ctypes.Structure):
    _fields_ = [("column", c_int32), ("name", c_char_p), ("ids", P(c_int64)), ("strings", P(c_char_p)),
                ("offsets", P(c_int64)), ("weights", P(c_float)), ("values", P(c_float))]


class Arrays(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("num_rows", c_int64), ("columns", P(ArrayColumn)),
                ("num_columns", c_int32), ("labels", P(c_float)), ("sample_weights", P(c_float))]


METRICS = ("logloss", "auc", "mse", "rmse", "accuracy", "loss")
METRIC_COUNT = len(METRICS)


class DeepCTRError(RuntimeError):
    """A libdeepctr call failed: status is the dctr_status name, the message dctr_last_error()."""

    def __init__(self, status, message):
        super().__init__("%s: %s" % (status, message))
        self.status = status


def _candidates():
    env = os.environ.get("DEEPCTR_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (here, os.path.join(here, "..", "..", "build"), os.path.join(sys.prefix, "lib"),
              "/usr/local/lib", "/usr/lib"):
        yield os.path.join(d, "libdeepctr.so")
    found = ctypes.util.find_library("deepctr")
    if found:
        yield found


def _load():
    errors = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            errors.append(path)
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append("%s (%s)" % (path, e))
    raise ImportError("libdeepctr: shared library not found; set DEEPCTR_LIBRARY to libdeepctr.so "
                      "(tried: %s)" % ", ".join(errors))


lib = _load()

_SIGS = {
    "dctr_last_error": (c_char_p, []),
    "dctr_status_name": (c_char_p, [c_int]),
    "dctr_version": (c_char_p, []),
    "dctr_schema_new": (c_int, [P(c_void_p)]),
    "dctr_schema_free": (None, [c_void_p]),
    "dctr_sparse_feat_default": (None, [P(SparseFeatC), c_char_p]),
    "dctr_varlen_feat_default": (None, [P(VarlenFeatC), c_char_p, c_int32]),
    "dctr_dense_feat_default": (None, [P(DenseFeatC), c_char_p]),
    "dctr_schema_add_sparse": (c_int, [c_void_p, P(SparseFeatC)]),
    "dctr_schema_add_varlen": (c_int, [c_void_p, P(VarlenFeatC)]),
    "dctr_schema_add_dense": (c_int, [c_void_p, P(DenseFeatC)]),
    "dctr_schema_set_label": (c_int, [c_void_p, c_char_p]),
    "dctr_schema_validate": (c_int, [c_void_p]),
    "dctr_schema_num_columns": (c_int32, [c_void_p]),
    "dctr_schema_column_name": (c_char_p, [c_void_p, c_int32]),
    "dctr_schema_column_kind": (c_int, [c_void_p, c_int32]),
    "dctr_schema_find": (c_int32, [c_void_p, c_char_p]),
    "dctr_schema_is_fitted": (c_int, [c_void_p]),
    "dctr_schema_vocabulary_size": (c_int64, [c_void_p, c_char_p]),
    "dctr_schema_fit_arrays": (c_int, [c_void_p, P(Arrays)]),
    "dctr_arrays_init": (None, [P(Arrays)]),
    "dctr_dataset_from_arrays": (c_int, [c_void_p, P(Arrays), P(c_void_p)]),
    "dctr_dataset_free": (None, [c_void_p]),
    "dctr_dataset_num_rows": (c_int64, [c_void_p]),
    "dctr_model_config_default": (None, [P(ModelConfig), c_int]),
    "dctr_model_config_recommended": (None, [P(ModelConfig), c_int]),
    "dctr_optimizer_config_default": (None, [P(OptimizerConfig), c_int]),
    "dctr_fit_options_default": (None, [P(FitOptions)]),
    "dctr_model_new": (c_int, [c_void_p, P(ModelConfig), P(c_void_p)]),
    "dctr_model_free": (None, [c_void_p]),
    "dctr_model_schema": (c_void_p, [c_void_p]),
    "dctr_model_get_type": (c_int, [c_void_p]),
    "dctr_model_get_task": (c_int, [c_void_p]),
    "dctr_model_num_parameters": (c_int64, [c_void_p]),
    "dctr_model_fit": (c_int, [c_void_p, c_void_p, P(FitOptions), P(History)]),
    "dctr_history_free": (None, [P(History)]),
    "dctr_model_predict": (c_int, [c_void_p, c_void_p, P(c_float)]),
    "dctr_model_evaluate": (c_int, [c_void_p, c_void_p, P(c_double)]),
    "dctr_model_save": (c_int, [c_void_p, c_char_p, c_int]),
    "dctr_model_load": (c_int, [c_char_p, P(c_void_p)]),
    "dctr_predictor_new": (c_int, [c_void_p, c_int32, P(c_void_p)]),
    "dctr_predictor_free": (None, [c_void_p]),
    "dctr_predictor_predict_arrays": (c_int, [c_void_p, P(Arrays), P(c_float), P(c_float)]),
    "dctr_model_get_config": (c_int, [c_void_p, P(ModelConfig)]),
    "dctr_schema_column_info": (c_int, [c_void_p, c_int32, P(ColumnInfo)]),
    "dctr_model_find_table": (c_int32, [c_void_p, c_char_p]),
    "dctr_model_table_shape": (c_int, [c_void_p, c_int32, P(c_int64), P(c_int32)]),
    "dctr_model_get_embeddings": (c_int, [c_void_p, c_int32, c_int64, c_int64, P(c_float)]),
    "dctr_model_set_embeddings": (c_int, [c_void_p, c_int32, c_int64, c_int64, P(c_float)]),
    "dctr_model_num_tensors": (c_int32, [c_void_p]),
    "dctr_model_tensor_name": (c_char_p, [c_void_p, c_int32]),
    "dctr_model_tensor_shape": (c_int, [c_void_p, c_char_p, P(c_int64), P(c_int64)]),
    "dctr_model_get_tensor": (c_int, [c_void_p, c_char_p, P(c_float), c_int64]),
    "dctr_model_set_tensor": (c_int, [c_void_p, c_char_p, P(c_float), c_int64]),
}
for _name, (_res, _args) in _SIGS.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args


def check(status):
    """Raises DeepCTRError unless status is DCTR_OK (0)."""
    if status != 0:
        raise DeepCTRError(lib.dctr_status_name(status).decode(), lib.dctr_last_error().decode(errors="replace"))

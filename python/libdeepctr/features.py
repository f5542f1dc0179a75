"""Feature columns with DeepCTR's names and fields (deepctr.feature_column): SparseFeat, DenseFeat,
VarLenSparseFeat, get_feature_names. vocabulary_size="auto" fits a vocabulary on the training data;
embedding_dim="auto" is DeepCTR's 6 * V ** 0.25."""
from collections import namedtuple

DEFAULT_GROUP_NAME = "default_group"

_Sparse = namedtuple("SparseFeat", ["name", "vocabulary_size", "embedding_dim", "use_hash", "vocabulary_path",
                                    "dtype", "embeddings_initializer", "embedding_name", "group_name", "trainable",
                                    "init_std", "oov_policy", "min_count"])


class SparseFeat(_Sparse):
    """A categorical column. vocabulary_size: table rows (hash buckets with use_hash), or "auto" to
    fit a vocabulary; dtype "int32"/"int64" (integer ids) or "string". init_std: the RandomNormal
    std of the table (DeepCTR's embeddings_initializer default is 1e-4). oov_policy: "reserved",
    "hash" or "error" for values a fitted vocabulary has not seen."""
    __slots__ = ()

    def __new__(cls, name, vocabulary_size="auto", embedding_dim=4, use_hash=False, vocabulary_path=None,
                dtype="int32", embeddings_initializer=None, embedding_name=None, group_name=DEFAULT_GROUP_NAME,
                trainable=True, init_std=1e-4, oov_policy="reserved", min_count=1):
        if embedding_name is None:
            embedding_name = name
        return super().__new__(cls, name, vocabulary_size, embedding_dim, use_hash, vocabulary_path, dtype,
                               embeddings_initializer, embedding_name, group_name, trainable, init_std,
                               oov_policy, min_count)

    def __hash__(self):
        return self.name.__hash__()


class VarLenSparseFeat(namedtuple("VarLenSparseFeat", ["sparsefeat", "maxlen", "combiner", "length_name",
                                                        "weight_name", "weight_norm"])):
    """A multi-valued column: per row a sequence of values (list, or a padded 2-D int array whose
    0s are padding), pooled by combiner ("mean", "sum" or "max")."""
    __slots__ = ()

    def __new__(cls, sparsefeat, maxlen, combiner="mean", length_name=None, weight_name=None, weight_norm=True):
        return super().__new__(cls, sparsefeat, maxlen, combiner, length_name, weight_name, weight_norm)

    name = property(lambda self: self.sparsefeat.name)
    vocabulary_size = property(lambda self: self.sparsefeat.vocabulary_size)
    embedding_dim = property(lambda self: self.sparsefeat.embedding_dim)
    use_hash = property(lambda self: self.sparsefeat.use_hash)
    dtype = property(lambda self: self.sparsefeat.dtype)
    embedding_name = property(lambda self: self.sparsefeat.embedding_name)
    group_name = property(lambda self: self.sparsefeat.group_name)

    def __hash__(self):
        return self.name.__hash__()


class DenseFeat(namedtuple("DenseFeat", ["name", "dimension", "dtype", "transform_fn", "transform", "fill_value"])):
    """A numeric column of `dimension` floats. transform: "none" (DeepCTR: the caller scales),
    "minmax", "standardize" or "log1p", fitted on the training data and saved with the model.
    transform_fn (DeepCTR's Python callable) is not supported: use transform."""
    __slots__ = ()

    def __new__(cls, name, dimension=1, dtype="float32", transform_fn=None, transform="none", fill_value=0.0):
        if transform_fn is not None:
            raise ValueError("DenseFeat %s: transform_fn cannot run inside the C library; use transform="
                             "'minmax' | 'standardize' | 'log1p'" % name)
        return super().__new__(cls, name, dimension, dtype, transform_fn, transform, fill_value)

    def __hash__(self):
        return self.name.__hash__()


def get_feature_names(feature_columns):
    """The input names a model reads, in order (DeepCTR's get_feature_names)."""
    names = []
    for fc in feature_columns:
        for n in (fc.name, getattr(fc, "weight_name", None), getattr(fc, "length_name", None)):
            if n and n not in names:
                names.append(n)
    return names

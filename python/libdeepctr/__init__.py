"""libdeepctr: DeepCTR-style CTR models (DeepFM, FM, LR, FFM, DeepFFM) trained and served by the
libdeepctr C library. The shared library is found through DEEPCTR_LIBRARY, else beside this
package, the build tree, or the install prefix's lib/."""
from ._lib import DeepCTRError
from .features import DEFAULT_GROUP_NAME, DenseFeat, SparseFeat, VarLenSparseFeat, get_feature_names
from .models import FFM, FM, LR, DeepFFM, DeepFM, Estimator

__all__ = ["DeepCTRError", "DEFAULT_GROUP_NAME", "DenseFeat", "SparseFeat", "VarLenSparseFeat",
           "get_feature_names", "DeepFM", "FM", "LR", "FFM", "DeepFFM", "Estimator", "version"]


def version():
    from ._lib import lib
    return lib.dctr_version().decode()

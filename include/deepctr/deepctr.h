/* libdeepctr: DeepFM / FFM click-through-rate models in C. Include this one header. */
#ifndef DEEPCTR_DEEPCTR_H
#define DEEPCTR_DEEPCTR_H

#include "deepctr/common.h"
#include "deepctr/collective.h"
#include "deepctr/data.h"
#include "deepctr/ffm.h"
#include "deepctr/model.h"
#include "deepctr/quality.h"
#include "deepctr/runtime.h"
#include "deepctr/schema.h"
#include "deepctr/services.h"
#include "deepctr/synth.h"

#endif

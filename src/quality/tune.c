/* Hyper-parameter search by successive halving (docs/quality.md#tuning): sample configurations,
 * train each a few epochs, keep the best 1/eta, give them eta times the epochs, and so on. Every
 * model keeps training from where its last round left it; a round that does not improve it is
 * undone (the model is reloaded from its state before the round) so a trial's score is always
 * the score of the weights it holds. The first trials are the recommended settings of each
 * searched type; they are never eliminated, so the search ends at least where they do. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "deepctr/quality.h"

#define TUNE_STREAM 0x74756e65ull /* "tune" */

void dctr_tune_options_default(dctr_tune_options *o) {
    if (!o)
        return;
    /* 12 trials, thirds kept per rung, 3..50 epochs, the recommended batch, one thread */
    *o = (dctr_tune_options){.struct_size = (uint32_t)sizeof(*o), .max_trials = 12, .seed = 1,
                             .eta = 3, .min_epochs = 3, .max_epochs = 50, .batch_size = 256,
                             .threads = 1, .validation_split = 0.1};
}

void dctr_tune_result_free(dctr_tune_result *r) {
    if (!r)
        return;
    dctr_model_free(r->best_model);
    dctr_free(r->trials);
    memset(r, 0, sizeof(*r));
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The searched types in a fixed order (LR, FM, DeepFM); returns their count. */
static int searched_types(uint32_t mask, dctr_model_type out[3]) {
    static const dctr_model_type all[3] = {DCTR_MODEL_LR, DCTR_MODEL_FM, DCTR_MODEL_DEEPFM};
    int n = 0;
    for (int i = 0; i < 3; i++)
        if (!mask || (mask & (1u << all[i])))
            out[n++] = all[i];
    return n;
}

/* Trial `id`: the first ones are the recommended settings of each searched type, the others are
 * drawn from the grid below with the tuner's own random stream. */
static void sample_trial(int32_t id, const dctr_model_type *types, int ntypes, dctr_rng *rng,
                         dctr_tune_trial *t) {
    static const double lrs[] = {0.02, 0.05, 0.1, 0.2};
    static const float l2s[] = {1e-6f, 1e-5f, 1e-4f};
    static const float drops[] = {0.0f, 0.2f, 0.5f};
    static const int32_t layers[3][3] = {{64, 64, 0}, {128, 128, 128}, {256, 128, 0}};
    static const int32_t nlayers[3] = {2, 3, 2};
    memset(t, 0, sizeof(*t));
    t->id = id;
    dctr_model_config rec;
    int recommended = id < ntypes;
    t->type = recommended ? types[id] : types[dctr_rng_below(rng, (uint64_t)ntypes)];
    dctr_model_config_recommended(&rec, t->type);
    t->optimizer = rec.optimizer.kind;
    t->learning_rate = rec.optimizer.learning_rate;
    t->l2_embedding = rec.l2_embedding;
    t->dropout = rec.dropout;
    t->use_bn = rec.use_bn;
    t->num_hidden = t->type == DCTR_MODEL_DEEPFM ? rec.num_hidden : 0;
    for (int32_t i = 0; i < t->num_hidden && i < 3; i++)
        t->hidden[i] = rec.hidden_units[i];
    t->valid_auc = t->valid_loss = NAN;
    if (recommended)
        return;
    t->optimizer = DCTR_OPT_ADAGRAD;
    t->learning_rate = lrs[dctr_rng_below(rng, 4)];
    t->l2_embedding = l2s[dctr_rng_below(rng, 3)];
    if (t->type != DCTR_MODEL_DEEPFM)
        return;
    t->dropout = drops[dctr_rng_below(rng, 3)];
    t->use_bn = (int)dctr_rng_below(rng, 2);
    int l = (int)dctr_rng_below(rng, 3);
    t->num_hidden = nlayers[l];
    memcpy(t->hidden, layers[l], sizeof t->hidden);
}

static void trial_config(const dctr_tune_trial *t, dctr_task task, uint64_t seed, dctr_model_config *cfg) {
    dctr_model_config_recommended(cfg, t->type);
    cfg->task = task;
    cfg->seed = seed;
    if (t->optimizer != cfg->optimizer.kind)
        dctr_optimizer_config_default(&cfg->optimizer, t->optimizer);
    cfg->optimizer.learning_rate = t->learning_rate;
    cfg->l2_embedding = t->l2_embedding;
    cfg->dropout = t->dropout;
    cfg->use_bn = t->use_bn;
    cfg->hidden_units = t->num_hidden > 0 ? t->hidden : NULL;
    cfg->num_hidden = t->num_hidden;
}

typedef struct tuner {
    const dctr_schema *schema;
    const dctr_dataset *train, *valid;
    dctr_task task;
    dctr_tune_options o;
    dctr_tune_trial *trials;
    dctr_model **models;
    double *score;   /* higher is better: AUC, or -MSE; -inf before the first round */
    int *done;       /* early stopping ended its last round, or a round did not improve it */
    int32_t nrecommended; /* trials [0, nrecommended) are the recommended settings */
} tuner;

/* Validation score of the kept epoch of a fit (its history). */
static void read_history(const tuner *tu, const dctr_history *h, double *score, double *auc, double *loss) {
    const double *v = h->valid + (size_t)(h->best_epoch > 0 ? h->best_epoch - 1 : 0) * DCTR_METRIC_COUNT;
    int bin = tu->task == DCTR_TASK_BINARY;
    *auc = bin ? v[DCTR_METRIC_AUC] : NAN;
    *loss = bin ? v[DCTR_METRIC_LOGLOSS] : v[DCTR_METRIC_MSE];
    *score = bin ? *auc : -*loss;
    if (isnan(*score))
        *score = -INFINITY;
}

/* Trains trial i for `epochs` more epochs; undoes the round when it does not improve the trial. */
static dctr_status run_round(tuner *tu, int32_t i, int32_t epochs, int32_t round) {
    dctr_tune_trial *t = &tu->trials[i];
    void *before = NULL;
    size_t size = 0;
    dctr_status st = DCTR_OK;
    if (!tu->models[i]) {
        dctr_model_config cfg;
        trial_config(t, tu->task, tu->o.seed, &cfg);
        DCTR_TRY(dctr_model_new(tu->schema, &cfg, &tu->models[i]));
    } else {
        DCTR_TRY(dctr_model_save_to_memory(tu->models[i], 1, &before, &size));
    }
    dctr_fit_options fo;
    dctr_fit_options_recommended(&fo, tu->task);
    fo.epochs = epochs;
    fo.patience = epochs < 4 ? epochs : 4; /* the recommended patience, within the round */
    fo.batch_size = tu->o.batch_size;
    fo.threads = tu->o.threads;
    /* shuffle_seed 0: the model's seed, and the shuffle position goes on from round to round,
     * so a trial no round undid trains as one fit of its epochs would */
    fo.validation = tu->valid;
    fo.validation_split = tu->valid ? 0.0 : tu->o.validation_split;
    dctr_history h;
    memset(&h, 0, sizeof h);
    double t0 = now_seconds();
    st = dctr_model_fit(tu->models[i], tu->train, &fo, &h);
    t->seconds += now_seconds() - t0;
    if (st == DCTR_OK) {
        double score, auc, loss;
        read_history(tu, &h, &score, &auc, &loss);
        t->epochs += h.epochs_run;
        t->rung = round;
        tu->done[i] = h.epochs_run < epochs;
        if (before && !(score > tu->score[i])) { /* no better than before the round: undo it */
            dctr_model_free(tu->models[i]);
            tu->models[i] = NULL;
            st = dctr_model_load_from_memory(before, size, &tu->models[i]);
            tu->done[i] = 1;
        } else {
            tu->score[i] = score;
            t->valid_auc = auc;
            t->valid_loss = loss;
        }
    }
    dctr_history_free(&h);
    dctr_free_buffer(before);
    if (st == DCTR_OK && tu->o.progress)
        tu->o.progress(t, round, tu->o.progress_user);
    return st;
}

static int by_score(const tuner *tu, int32_t a, int32_t b) {
    if (tu->score[a] != tu->score[b])
        return tu->score[a] > tu->score[b] ? -1 : 1;
    return a < b ? -1 : 1;
}

/* Insertion sort of the alive trials, best first (few trials; stable, so ties keep id order). */
static void rank(const tuner *tu, int32_t *alive, int32_t n) {
    for (int32_t a = 1; a < n; a++)
        for (int32_t b = a; b > 0 && by_score(tu, alive[b], alive[b - 1]) < 0; b--) {
            int32_t x = alive[b];
            alive[b] = alive[b - 1];
            alive[b - 1] = x;
        }
}

static dctr_status check_options(const dctr_tune_options *in, dctr_tune_options *o) {
    dctr_tune_options_default(o);
    if (!in)
        return DCTR_OK;
    if (in->struct_size == 0 || in->struct_size > sizeof(*o))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_tune_options: struct_size %u is not valid",
                              (unsigned)in->struct_size);
    memcpy(o, in, in->struct_size);
    o->struct_size = (uint32_t)sizeof(*o);
    if (o->max_trials < 1 || o->max_trials > 10000 || o->eta < 2 || o->min_epochs < 1 ||
        o->max_epochs < o->min_epochs || o->batch_size < 1 || o->threads < 0 ||
        !(o->time_budget_seconds >= 0) || !(o->validation_split >= 0 && o->validation_split < 1))
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_tune_options: need 1 <= max_trials <= 10000, eta >= 2, 1 <= min_epochs "
                              "<= max_epochs, batch_size >= 1, threads >= 0, time_budget_seconds >= 0, "
                              "validation_split in [0, 1)");
    if (o->model_types & ~((1u << DCTR_MODEL_DEEPFM) | (1u << DCTR_MODEL_FM) | (1u << DCTR_MODEL_LR)))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_tune_options: model_types may hold LR, FM and DeepFM only");
    return DCTR_OK;
}

static void tuner_free(tuner *tu) {
    for (int32_t i = 0; tu->models && i < tu->o.max_trials; i++)
        dctr_model_free(tu->models[i]);
    dctr_free(tu->models);
    dctr_free(tu->score);
    dctr_free(tu->done);
    dctr_free(tu->trials);
}

/* The rounds: every alive trial trains up to `budget` epochs in all, then the best 1/eta stay. */
static dctr_status halve(tuner *tu, int32_t *alive, int32_t *nalive, int32_t *ran) {
    double start = now_seconds(), limit = tu->o.time_budget_seconds;
    int32_t budget = tu->o.min_epochs, round = 0, n = *nalive;
    for (;;) {
        int stop = 0;
        for (int32_t a = 0; a < n && !stop; a++) {
            int32_t i = alive[a];
            if (limit > 0 && *ran > 0 && now_seconds() - start >= limit) {
                stop = 1; /* the budget is spent: what ran so far is the result */
                break;
            }
            if (tu->done[i] || tu->trials[i].epochs >= budget)
                continue;
            DCTR_TRY(run_round(tu, i, budget - tu->trials[i].epochs, round));
            if (round == 0)
                *ran = i + 1;
        }
        if (round == 0 && *ran < n)
            n = *ran; /* trials the time budget never reached are not part of the result */
        rank(tu, alive, n);
        if (stop || n <= 1 || budget >= tu->o.max_epochs)
            break;
        int32_t keep = (n + tu->o.eta - 1) / tu->o.eta, next = keep;
        for (int32_t a = keep; a < n; a++) {
            if (alive[a] < tu->nrecommended) { /* the recommended settings always go on */
                alive[next++] = alive[a];
                continue;
            }
            dctr_model_free(tu->models[alive[a]]); /* eliminated: its model is not needed */
            tu->models[alive[a]] = NULL;
        }
        n = next;
        budget = budget > tu->o.max_epochs / tu->o.eta ? tu->o.max_epochs : budget * tu->o.eta;
        round++;
    }
    *nalive = n;
    return DCTR_OK;
}

dctr_status dctr_tune(const dctr_schema *schema, const dctr_dataset *train, const dctr_dataset *valid,
                      dctr_task task, const dctr_tune_options *opts, dctr_tune_result *result) {
    if (!schema || !train || !result)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_tune: NULL schema, train or result");
    memset(result, 0, sizeof(*result));
    if (task != DCTR_TASK_BINARY && task != DCTR_TASK_REGRESSION)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_tune: unknown task %d", (int)task);
    tuner tu = {.schema = schema, .train = train, .valid = valid, .task = task};
    DCTR_TRY(check_options(opts, &tu.o));
    if (!valid && !(tu.o.validation_split > 0))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_tune: needs validation rows (valid or validation_split)");
    int32_t n = tu.o.max_trials;
    tu.trials = dctr_calloc((size_t)n, sizeof(*tu.trials));
    tu.models = dctr_calloc((size_t)n, sizeof(*tu.models));
    tu.score = dctr_calloc((size_t)n, sizeof(*tu.score));
    tu.done = dctr_calloc((size_t)n, sizeof(*tu.done));
    int32_t *alive = dctr_calloc((size_t)n, sizeof(int32_t));
    if (!tu.trials || !tu.models || !tu.score || !tu.done || !alive) {
        dctr_free(alive);
        tuner_free(&tu);
        return DCTR_ERR_NOMEM;
    }
    dctr_model_type types[3];
    int ntypes = searched_types(tu.o.model_types, types);
    tu.nrecommended = ntypes;
    dctr_rng rng;
    dctr_rng_init(&rng, tu.o.seed, TUNE_STREAM);
    for (int32_t i = 0; i < n; i++) {
        sample_trial(i, types, ntypes, &rng, &tu.trials[i]);
        tu.score[i] = -INFINITY;
        alive[i] = i;
    }
    int32_t nalive = n, ran = 0;
    dctr_status st = halve(&tu, alive, &nalive, &ran);
    if (st == DCTR_OK) {
        int32_t best = alive[0];
        result->count = ran;
        result->best = best;
        result->best_model = tu.models[best];
        tu.models[best] = NULL;
        result->trials = tu.trials;
        tu.trials = NULL;
        trial_config(&result->trials[best], task, tu.o.seed, &result->best_config);
    }
    dctr_free(alive);
    tuner_free(&tu);
    return st;
}

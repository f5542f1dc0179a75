/* Vocabulary files (DeepCTR's vocabulary_path): CSV lines "int_id,string_key". A key missing
 * from the file maps to 0 at lookup time. */
#include <string.h>

#include "core/error.h"
#include "data/csv_tokenizer.h"
#include "data/vocab_file.h"
#include "feature/encode.h"
#include "feature/numparse.h"
#include "feature/schema_internal.h"
#include "feature/vocab.h"

dctr_status dctr_vocab_load_file(dctr_column *c) {
    dctr_csv_tok t;
    DCTR_TRY(dctr_csv_tok_open(&t, c->vocabulary_path, ',', 1u << 20, 1024));
    dctr_vocab *v = NULL;
    dctr_status st = dctr_vocab_new(64, &v);
    int64_t max_id = -1;
    while (st == DCTR_OK) {
        int got;
        st = dctr_csv_tok_next(&t, &got);
        if (st != DCTR_OK || !got)
            break;
        dctr_loc loc = {t.path, t.rec_line, 1};
        if (t.nf < 2) {
            st = dctr_loc_error(DCTR_ERR_PARSE, &loc, c->name,
                                "vocabulary line needs 'int_id,string_key'");
            break;
        }
        int64_t id;
        int r = dctr_parse_int64(t.f[0].p, t.f[0].len, &id);
        if (r != DCTR_NUM_OK || id < 0 || (c->requested_vocab > 0 && id >= c->requested_vocab)) {
            st = dctr_loc_error(r == DCTR_NUM_SYNTAX ? DCTR_ERR_PARSE : DCTR_ERR_RANGE, &loc,
                                c->name, "vocabulary id '%.*s' is not an integer in [0, %lld)",
                                (int)(t.f[0].len > 40 ? 40 : t.f[0].len), t.f[0].p,
                                (long long)(c->requested_vocab > 0 ? c->requested_vocab
                                                                    : DCTR_MAX_VOCAB));
            break;
        }
        char buf[24];
        const char *key;
        size_t klen;
        loc.col = t.f[1].col;
        st = dctr_encode_key(c, t.f[1].p, t.f[1].len, buf, &key, &klen, &loc);
        if (st != DCTR_OK)
            break;
        dctr_vocab_slot *sl;
        int64_t before = v->n;
        st = dctr_vocab_upsert(v, key, klen, dctr_fingerprint64(key, klen), &sl);
        if (st != DCTR_OK)
            break;
        if (v->n == before) {
            st = dctr_loc_error(DCTR_ERR_PARSE, &loc, c->name, "duplicate vocabulary key '%.*s'",
                                (int)(klen > 40 ? 40 : klen), key);
            break;
        }
        sl->value = id;
        if (id > max_id)
            max_id = id;
    }
    dctr_csv_tok_close(&t);
    if (st != DCTR_OK) {
        dctr_vocab_free(v);
        return st;
    }
    if (c->owns_vocab)
        dctr_vocab_free(c->vocab);
    c->vocab = v;
    c->owns_vocab = 1;
    c->vocab_size = c->requested_vocab > 0 ? c->requested_vocab : max_id + 1;
    if (c->vocab_size < 1)
        c->vocab_size = 1;
    return DCTR_OK;
}

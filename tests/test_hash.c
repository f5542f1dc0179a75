/* Fingerprint64, DeepCTR's Hash layer rules and vocabulary-file lookup (checklist §3.3
 * "Embeddings and hashing"). The 301 reference values were produced once by Debian's
 * libfarmhash (util::Fingerprint64) on the LCG strings regenerated below: every length 0..300
 * covers each code path of the algorithm (0, 1-3, 4-7, 8-16, 17-32, 33-64, >64 bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/data.h"
#include "deepctr/schema.h"
#include "feature/schema_types.h"
#include "data/batch.h"
#include "test_env.h"

static const uint64_t FP64_LCG[301] = {
    0x9ae16a3b2f90404fULL, 0xad46441c24719f4bULL, 0xa0a9a0890b1a1125ULL,
    0xbddb32730823902bULL, 0x9695b4414d06fe52ULL, 0xb7169a61d45512ceULL,
    0x8cc22857ae404dd7ULL, 0x1cda617ab7226077ULL, 0x2f480a7fb160d009ULL,
    0x75d90907abf208cdULL, 0x4d5dacbb8c5068b1ULL, 0xa4f6147495bad078ULL,
    0xaa59dd3cbcabb98cULL, 0x8a2f42bbcee60c05ULL, 0x78f2a84bd92c7de0ULL,
    0xc7b41f8fd82d7b2dULL, 0x74c4dc0a0a7a0c15ULL, 0x206dee3bce6525e1ULL,
    0x35853187fabe18dbULL, 0xfe06720be84dca18ULL, 0x731967e2beaa61f6ULL,
    0x3678e6b4b37642b8ULL, 0xec21e24542d22cecULL, 0x62335f93687f57ddULL,
    0xe6a8a7db2c1a002fULL, 0x4375b158a77cf2c3ULL, 0x72c83809e6cbc270ULL,
    0xe4a8304a8b3ea3b6ULL, 0x277a3b598a90fd91ULL, 0x4383ddd33ff51454ULL,
    0xfd5774c34755d0edULL, 0xeac5cb33c36f7275ULL, 0x35420e9f50477a4cULL,
    0xc5217ef3e902bb55ULL, 0x9e0f4604f3a67c29ULL, 0x3173b64eaecfde99ULL,
    0xedbd3d667992d27eULL, 0x7f038b4153d1ad1bULL, 0x0ff2f58bcc174d01ULL,
    0x0a4106698fcd2893ULL, 0xf8c69d60f4b96cc7ULL, 0xf1fb333525df541eULL,
    0xf9f869b917713ec8ULL, 0x7d977bf47ba16227ULL, 0xa0bbd412bd35f2a5ULL,
    0x157719079801d398ULL, 0xa03b362726ac4772ULL, 0xba6ccdabe6cdd47bULL,
    0xf7267d10065f6bd0ULL, 0x43be9f83a215e21dULL, 0x4ec4bbfc14034fbfULL,
    0x6de3deeb8147ca60ULL, 0x5b64fe6074447111ULL, 0x6519c0d0a280d07fULL,
    0xafc4e2e60126afafULL, 0xad45b1361b6a0a8dULL, 0xb9a01f264c8b3221ULL,
    0x88c0aeb6db58d3e1ULL, 0x9143492cc714018fULL, 0xe0a6811df1991430ULL,
    0x14875ec96410ee12ULL, 0xab1e7fdefbb83cd3ULL, 0x467b155f2f0cc626ULL,
    0x3b3cb0f4a671c680ULL, 0x76603ec2d8e24cd0ULL, 0x6f270419e02fa8cdULL,
    0xd48e4e8b8efb6592ULL, 0x531021b242011825ULL, 0xdac3383758dda324ULL,
    0xd20bec2fd61955b0ULL, 0x11a3752b1ed9da1cULL, 0x1a1475f5a9c1e901ULL,
    0xe025c1f901e25c3eULL, 0x7c103b74f78bdd24ULL, 0x78c0872e1dfd81c7ULL,
    0x3c4e4e5942d217bcULL, 0x54b3a692d4138e2fULL, 0x5f55734514a69f19ULL,
    0xa54428519a2cec6dULL, 0xce370dcf3f0d6075ULL, 0xa6cce3f13ebae0fbULL,
    0x893c86197028224fULL, 0x3242b01f3a89a1d8ULL, 0x97e306b64a033f7dULL,
    0xedad320747e2b70eULL, 0x74a34f8c64f9f3b5ULL, 0x73ce89566ea5b87dULL,
    0xd6a1992a66212d50ULL, 0x66bd0f8530b91407ULL, 0x4191ada14de65c02ULL,
    0x9638aab12f168561ULL, 0xc94924a8d40c668dULL, 0x2c28fde00c334a49ULL,
    0xa7c33f0e9a6a26e8ULL, 0x291af1a41d8c3335ULL, 0x0ec15c4c7c95dc68ULL,
    0x7a03d30d71463d8cULL, 0x0fc9818fb031f92dULL, 0x28dd13617af510a5ULL,
    0x344f8fec5ccb7563ULL, 0xb7de7baee61aff0cULL, 0xe85a23116caffa50ULL,
    0x6aab3e20df4a2198ULL, 0x122e2aecbebedd06ULL, 0xce64d5fbc9599ef3ULL,
    0x0ada27f6cf829ff5ULL, 0xc4ba75f4998aaf61ULL, 0x7ede16878a255987ULL,
    0x5dbbfc7b69bbd52aULL, 0xbb44695738f22d4aULL, 0x59d3b72d6f0ac085ULL,
    0x2f32a4048aab2516ULL, 0x51a83441f15fcbc5ULL, 0x8b1c3fdcd5698894ULL,
    0x5d36806314c25112ULL, 0x939591d69b1f2c5bULL, 0x7a14135d27e8fe47ULL,
    0xbf1bf1d6ea89af13ULL, 0xb64c9479acd1df52ULL, 0x56d3fd605b5fcf95ULL,
    0x006762c252d443faULL, 0x99e933bfb0339001ULL, 0xa8ca06240f114e45ULL,
    0x66128a6dabbde6c1ULL, 0xe29eddb682a5f6eaULL, 0xa9fcb2c6667692e0ULL,
    0x9b419a80cdbbe544ULL, 0x5e5b810e799f3909ULL, 0xe5a033b5b4b30a0fULL,
    0x9711adfff2453055ULL, 0xde99e0306f3980eaULL, 0x0675e94c5a477e20ULL,
    0xbc721952b039e088ULL, 0xbea47b87e56cfd58ULL, 0x3294f3e8834a038bULL,
    0xfdeb7cc8411099f1ULL, 0x66f78e68f389df87ULL, 0xad662ea411a5765dULL,
    0xdcd9a5a53375484cULL, 0x197a2d916b6a8f40ULL, 0xc08c09a28f4a72abULL,
    0x00f76c5c0d155f92ULL, 0x30e86d247b045235ULL, 0xf0459bf72d651e43ULL,
    0x8459f608a1854390ULL, 0x9dacf796486a15d6ULL, 0xc3196c37de665654ULL,
    0x75fd9a4d99a3c3dcULL, 0x427fe42ac6debc1cULL, 0xb5d83b39b090d50cULL,
    0x25f8a83cefe0ddf3ULL, 0x86d7f4886c098a08ULL, 0x3f172467b6d69c6bULL,
    0xcf328a4ca4edd43aULL, 0x3594918ff93db156ULL, 0x0f57638ae6daea69ULL,
    0x3987d1b8a32e3297ULL, 0xef7427696be02930ULL, 0xbde5be0e4b52bac3ULL,
    0xbb61d8fdccd64542ULL, 0x9c6bbc87c5b60542ULL, 0x4f6db1be38a59178ULL,
    0x81f12d4a5fda68f2ULL, 0x55237e5243b7f37fULL, 0xf448396d1007d453ULL,
    0x83f7d9d992015176ULL, 0x16e4df0e9eed30c1ULL, 0xd469d3a7fbd8ce52ULL,
    0x15987ca5c00e345fULL, 0x59e9a046d6ee303eULL, 0x1816a58eff51eb21ULL,
    0xaf2447c8014920e5ULL, 0xf02a448389cfd934ULL, 0x21f796a172fb3a38ULL,
    0x28628472281c044aULL, 0x09cedd70505dbeedULL, 0x91b7e3037b8749d2ULL,
    0xa109eede2ff48763ULL, 0xff53d802f095d059ULL, 0x32cc5fa56867b2d9ULL,
    0xba401022f64f28a3ULL, 0xb523362f2cd7d530ULL, 0x589ec77964de40e5ULL,
    0xfe67ddda066e5620ULL, 0x02d6b125b5ba62caULL, 0x896248b7740c9309ULL,
    0x108565884fb90352ULL, 0x6a1412f89365f88dULL, 0x296cbe7c0ccaf79eULL,
    0x7e03def1f413b5ccULL, 0x662c3389ea024b08ULL, 0x238a490bb5c4cafdULL,
    0xa1e8e2a8e1ec9bc3ULL, 0x1706af1f797a0f18ULL, 0x0b9339bb53cad9bcULL,
    0x72253eb857a36fe2ULL, 0x5e9c12ceb80e9b5dULL, 0x0d739e349de346e1ULL,
    0xb77a74e2945b6b2dULL, 0xb5836173a919d6c5ULL, 0x39502d9c68a05fe1ULL,
    0x3fb010db47ed48f5ULL, 0xe4337fa429c29e76ULL, 0x8fafc6311fa2b8a9ULL,
    0xbd7721855b60b785ULL, 0x8e925ccf189a85feULL, 0x2dc391b0c71b4f50ULL,
    0xc9ca839273b9abe9ULL, 0xfed8cc0cc14cb6a5ULL, 0xb170c8d2e0817056ULL,
    0x49c3ebf906270e04ULL, 0xb6a1d45a9abeb4fbULL, 0x83ec430bf55c872bULL,
    0x7b98d0382a1689ceULL, 0x2f1cfde6ec64c550ULL, 0xd27082c943dfd34eULL,
    0x35bb1c98c3947186ULL, 0x30def124fca30f33ULL, 0x29c10cb5234489f2ULL,
    0xcc435fd3da3b817eULL, 0x72d074bbc0d5dd8fULL, 0x0bc4c331802ee045ULL,
    0x6e38ca243a21dfc5ULL, 0x30ea723a4d94ae1fULL, 0xa2042e1df8f5ee8aULL,
    0xeee42d84add99a7fULL, 0xcb688007e795be37ULL, 0xe33366363ce69ff8ULL,
    0x3d6c5a0fdf111303ULL, 0xbd90c288bb0cf9c3ULL, 0xa5bef7e96355e70eULL,
    0x73654da5c8e2db9eULL, 0x5e6ee4cad0afdfa5ULL, 0x9aebba886027c625ULL,
    0x37912c7bbde5625bULL, 0xe738206d39b80a52ULL, 0x63d7a9773e68bc4bULL,
    0x9513a42a4420ddf1ULL, 0xf8c5c4a8a89626b3ULL, 0x9eddd6a54574631bULL,
    0xd8d08933fe8bf481ULL, 0xc3eaf4180357c683ULL, 0xd8b2972870761e1fULL,
    0x7bfc07a0efd454f6ULL, 0xf1fdfe88e388a38bULL, 0x68b1ec2c9478e2beULL,
    0x54ae4aeba4c7d628ULL, 0x1e083e04f7883b90ULL, 0x91ff2c2fcc141b9bULL,
    0x9a98f987a1007b73ULL, 0x6b53914af1a097caULL, 0x2f7d01d72eba38d9ULL,
    0x535c6902e1a851b3ULL, 0x05d94a740d11ef47ULL, 0x399eac7361910896ULL,
    0xb3772bb2ca970a1eULL, 0x79cc8c64ca2bbf99ULL, 0x0c75483b3cad8695ULL,
    0xc1f8a7d872c2c8dfULL, 0x9f3723efa15b687fULL, 0x26107178db5f28b0ULL,
    0xa92cbfb50eb0ddd0ULL, 0xdf6bf1334e81964bULL, 0xff887b725950dd23ULL,
    0x53107ac6e07b4f67ULL, 0xfb687ce0364c073fULL, 0x96b07581ac877994ULL,
    0x2fe71f3f4df2708bULL, 0xa7b453f117ac8a85ULL, 0xc105691ebf221cecULL,
    0x821f58c790dc28f6ULL, 0xb0f3ab48cd6b5f1aULL, 0xbffa08ef95365733ULL,
    0x83dbe4d9aff5c872ULL, 0x5f9ba43ff4b140f1ULL, 0x7c011c5297b6fa2fULL,
    0xdd9460b80435c04fULL, 0xa57aca5473f55d6eULL, 0x792a72ad0d595d2bULL,
    0x6235789f30efc82aULL, 0x59ab96f808d07ba9ULL, 0x19a53a6b84e265afULL,
    0xa5bc78a29d2088acULL, 0xe7871329a90885b9ULL, 0x71ac3411596fa871ULL,
    0x185e7dca5d27e513ULL, 0xf9036c270b117394ULL, 0xc2eaf39107c462b3ULL,
    0x16102dc61599a7afULL, 0xb02868c3ae4f182dULL, 0xafdb4f627d264b63ULL,
    0xd065ec0152ab2d70ULL, 0x27711845063f736fULL, 0x9050d35c99c5bfd4ULL,
    0x4efe63e2e2505673ULL, 0x814b46e36d1a5689ULL, 0xe5104f5dcfd733abULL,
    0xe22d5833047ee931ULL, 0xbaabc9dce14797d4ULL, 0x6e88e4c3dcda3bbdULL,
    0x241fb28a74c434e7ULL,
};

static void test_fingerprint64_matches_farmhash_on_all_lengths(void **state) {
    (void)state;
    uint64_t st = 12345;
    unsigned char s[301];
    for (int len = 0; len <= 300; len++) {
        for (int i = 0; i < len; i++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            s[i] = (unsigned char)(st >> 56);
        }
        if (dctr_fingerprint64(s, (size_t)len) != FP64_LCG[len])
            fail_msg("length %d: got %016llx want %016llx", len,
                     (unsigned long long)dctr_fingerprint64(s, (size_t)len),
                     (unsigned long long)FP64_LCG[len]);
    }
}

static void test_fingerprint64_known_words(void **state) {
    (void)state;
    assert_true(dctr_fingerprint64("Hello", 5) == 0xd5c87c1e326b2087ULL);
    assert_true(dctr_fingerprint64("TensorFlow", 10) == 0x3b32a5d4a84a82ceULL);
    assert_true(dctr_fingerprint64("2.x", 3) == 0x0d17983820f8dd9dULL);
    assert_true(dctr_fingerprint64("0", 1) == 0xd2ed96073b81823fULL);
    assert_true(dctr_fingerprint64("", 0) == 0x9ae16a3b2f90404fULL);
}

static void test_tf_vector_three_buckets(void **state) {
    (void)state;
    /* tf.strings.to_hash_bucket_fast(["Hello","TensorFlow","2.x"], 3) -> [0, 2, 2] */
    assert_int_equal(dctr_hash_bucket("Hello", 5, 3, 0), 0);
    assert_int_equal(dctr_hash_bucket("TensorFlow", 10, 3, 0), 2);
    assert_int_equal(dctr_hash_bucket("2.x", 3, 3, 0), 2);
}

static void test_mask_zero_rule(void **state) {
    (void)state;
    assert_int_equal(dctr_hash_bucket("0", 1, 10, 1), 0);
    /* other strings: FP64 mod (N-1) + 1 */
    uint64_t h = dctr_fingerprint64("Hello", 5);
    assert_int_equal(dctr_hash_bucket("Hello", 5, 10, 1), (int64_t)(h % 9) + 1);
    for (int i = 1; i < 2000; i++) {
        char buf[16];
        int n = snprintf(buf, sizeof buf, "%d", i);
        int64_t b = dctr_hash_bucket(buf, (size_t)n, 7, 1);
        assert_true(b >= 1 && b <= 6);
    }
    /* without mask_zero "0" is hashed like anything else */
    assert_int_equal(dctr_hash_bucket("0", 1, 10, 0),
                     (int64_t)(dctr_fingerprint64("0", 1) % 10));
    assert_int_equal(dctr_hash_bucket("x", 1, 0, 0), -1);
}

/* A one-column schema read from a one-column CSV written here. */
static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_ints_hash_via_decimal_string(void **state) {
    (void)state;
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "a");
    f.use_hash = 1;
    f.vocabulary_size = 1000;
    f.dtype = DCTR_DTYPE_INT;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "seq", 3);
    v.sparse.use_hash = 1;
    v.sparse.vocabulary_size = 1000;
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    assert_int_equal(dctr_schema_fit_none(s), DCTR_OK);
    char path[512];
    dctr_test_tmp_path(path, sizeof path, "hash_ints.csv");
    /* "0123" is the int 123: hashed as "123"; in a sequence "0" is padding (mask_zero) */
    write_file(path, "label,a,seq\n1,123,0|123|77\n0,0123,\n");
    dctr_dataset *ds;
    assert_int_equal(dctr_dataset_read_csv(s, path, NULL, &ds), DCTR_OK);
    const dctr_batch *b = dctr_dataset_rows(ds);
    int64_t want = (int64_t)(dctr_fingerprint64("123", 3) % 1000);
    assert_int_equal(b->cols[0].ids[0], want);
    assert_int_equal(b->cols[0].ids[1], want);
    assert_int_equal(b->cols[1].ids[0], 0);
    assert_int_equal(b->cols[1].ids[1], dctr_hash_bucket("123", 3, 1000, 1));
    assert_int_equal(b->cols[1].ids[2], dctr_hash_bucket("77", 2, 1000, 1));
    assert_int_equal(b->cols[1].ids[3], 0); /* empty sequence: all padding */
    /* the linear part and the DNN part read the same batch column: one index per value */
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

static void test_vocabulary_file_lookup(void **state) {
    (void)state;
    char vocab[512];
    dctr_test_data_path(vocab, sizeof vocab, "deepctr-samples/vocabulary_example.csv");
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "name");
    f.use_hash = 1;
    f.vocabulary_size = 4;
    f.dtype = DCTR_DTYPE_STRING;
    f.vocabulary_path = vocab;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    assert_int_equal(dctr_schema_fit_none(s), DCTR_OK);
    dctr_batch *b;
    assert_int_equal(dctr_batch_new(s, 4, &b), DCTR_OK);
    const char *keys[] = {"lake", "johnson", "lakemerson", "merson"};
    const int64_t want[] = {1, 3, 0, 2};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(dctr_batch_begin_row(b), DCTR_OK);
        assert_int_equal(dctr_batch_set_string(b, "name", keys[i]), DCTR_OK);
        assert_int_equal(dctr_batch_end_row(b), DCTR_OK);
        assert_int_equal(b->cols[0].ids[i], want[i]);
    }
    dctr_batch_free(b);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint64_matches_farmhash_on_all_lengths),
        cmocka_unit_test(test_fingerprint64_known_words),
        cmocka_unit_test(test_tf_vector_three_buckets),
        cmocka_unit_test(test_mask_zero_rule),
        cmocka_unit_test(test_ints_hash_via_decimal_string),
        cmocka_unit_test(test_vocabulary_file_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

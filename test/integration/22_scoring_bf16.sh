#!/usr/bin/env bash
# mlpscale.scoring_precision = 'bf16': per-row scoring through the bf16 copy of the weights and
# mlp_classify_batch through the bf16 products agree with each other and (nearly always) with
# fp32; fp32 is unchanged afterwards; bad values are refused.  On a CPU without AVX512_BF16
# the setting is refused, and the bf16 checks are skips.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
new_db it_scoring_bf16

like "$(q "SET mlpscale.scoring_precision = 'fp16'")" 'ERROR:.*invalid value for parameter "mlpscale.scoring_precision": "fp16".*HINT:.*fp32, bf16' \
     "an unknown precision is refused with the choices"
is "$(q "SHOW mlpscale.scoring_precision")" fp32 "fp32 is the default"

make_bands sc_train 600 0.1
make_bands sc_test 500 0.3
run=$(q "SELECT mlp_train('sc', 'sc_train', arch => 'B_2-Wi_64', epochs => 3, batch_size => 64,
                          optimizer => 'adamw', lr => 0.001, seed => 2)")
is "$(q "SELECT mlp_wait($run)")" succeeded "a model to score with"
q "CREATE TABLE fp32 AS SELECT id, classify('sc', image) AS c, predict_proba('sc', image) AS p FROM sc_test" >/dev/null

if ! grep -qw avx512_bf16 /proc/cpuinfo; then
    like "$(q "SET mlpscale.scoring_precision = 'bf16'")" 'ERROR:.*needs a CPU with AVX512_BF16' \
         "without AVX512_BF16, bf16 scoring is refused"
    for t in "per-row bf16 scoring" "bf16 batch scoring" "bf16 agrees with fp32" "fp32 unchanged after bf16"; do
        skip "$t (no AVX512_BF16)"
    done
    done_testing
fi

BF="SET mlpscale.scoring_precision = 'bf16';"
q "$BF CREATE TABLE bf16 AS SELECT id, classify('sc', image) AS c, predict_proba('sc', image) AS p FROM sc_test;
    CREATE TABLE bf16_batch AS SELECT * FROM mlp_classify_batch('sc', 'SELECT id, image FROM sc_test')" >/dev/null
is "$(q "SELECT count(*) FROM bf16 b JOIN fp32 f USING (id) WHERE b.p <> f.p")" 500 \
   "per-row bf16 scoring is not the fp32 arithmetic"
is "$(q "SELECT bool_and(c = (SELECT i - 1 FROM unnest(p) WITH ORDINALITY u(v, i) ORDER BY v DESC LIMIT 1)) FROM bf16")" t \
   "per-row bf16 classes are the argmax of its probabilities"
ge "$(q "SELECT count(*) FROM bf16 b JOIN bf16_batch x USING (id) WHERE b.c = x.class")" 495 \
   "bf16 batch scoring gives the per-row classes (up to summation order)"
agree=$(q "SELECT count(*) FROM bf16 b JOIN fp32 f USING (id) WHERE b.c = f.c")
ge "$agree" 490 "bf16 agrees with fp32 on at least 98 % of the images"
diag "bf16 top-1 agrees with fp32 on $agree of 500 images"
is "$(q "SELECT max((SELECT max(abs(a - b)) FROM unnest(x.p, f.p) u(a, b))) < 0.05 FROM bf16 x JOIN fp32 f USING (id)")" t \
   "bf16 probabilities within 0.05 of fp32"
is "$(q "$BF SET mlpscale.scoring_precision = 'fp32'; SELECT count(*) FROM sc_test t JOIN fp32 f USING (id) WHERE predict_proba('sc', t.image) = f.p")" 500 \
   "fp32 scoring is unchanged (bit for bit) after bf16 in the same session"
is "$(q "$BF SELECT classify_pinned('sc@1', image) = classify('sc', image) FROM sc_test ORDER BY id LIMIT 1")" t \
   "classify_pinned scores in bf16 too"
done_testing

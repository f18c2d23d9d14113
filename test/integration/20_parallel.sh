#!/usr/bin/env bash
# Scoring under parallel query and across sessions: over 60,000 rows the count of correct
# predictions is the same with and without parallel workers, the parallel plan is chosen when
# allowed, mlp_classify_batch agrees with classify(), and a new version or deployment made in
# one session is used by the next statement of another session that has the model cached.
. "$(dirname "$0")/lib.sh"
new_db it_parallel
cd "$MLPSCALE_ROOT"

psql -X -q -v ON_ERROR_STOP=1 -d "$TESTDB" -f test/fixtures/scoring_fixture.sql >/dev/null
is "$(q "SELECT mlp_import('par', data, input_shape => ARRAY[3, 8, 8],
                           mean => ARRAY[0.4914, 0.4822, 0.4465], std => ARRAY[0.2470, 0.2435, 0.2616])
         FROM fixture_files WHERE name = 'bottleneck_bare'")" 1 "fixture model imported"

# 60,000 images of 3x8x8 made in SQL: 32 pseudo-random bytes repeated six times.
q "CREATE TABLE par_images AS
   SELECT i AS id,
          image_from_bytes(decode(repeat(md5(i::text) || md5((i * 7919)::text), 6), 'hex'), 3, 8, 8) AS img,
          i % 10 AS label
   FROM generate_series(1, 60000) i;
   ANALYZE par_images" >/dev/null
is "$(q "SELECT count(*) FROM par_images")" 60000 "60,000 rows"

serial_sql="SET max_parallel_workers_per_gather = 0;
            SELECT count(*) FILTER (WHERE classify('par', img) = label) FROM par_images"
parallel_settings="SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0;
                   SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"
parallel_sql="$parallel_settings
              SELECT count(*) FILTER (WHERE classify('par', img) = label) FROM par_images"

t0=$(date +%s.%N)
serial=$(q "$serial_sql")
t1=$(date +%s.%N)
parallel=$(q "$parallel_sql")
t2=$(date +%s.%N)
like "$serial" '^[0-9]+$' "serial count of correct predictions"
is "$parallel" "$serial" "parallel count equals the serial count"
checksum="SELECT sum(classify('par', img)::bigint * id) FROM par_images"
is "$(q "$parallel_settings $checksum")" "$(q "SET max_parallel_workers_per_gather = 0; $checksum")" \
   "parallel and serial plans give every row the same class (checksum)"
diag "correct predictions: $serial of 60000; serial $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s, parallel $(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.2f", b-a}') s"

plan=$(q "$parallel_settings
          EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
          SELECT count(*) FILTER (WHERE classify('par', img) = label) FROM par_images")
like "$plan" "Parallel Seq Scan" "the forced plan scans in parallel"
like "$plan" "Workers Launched: [12]" "workers are launched"
plan_default=$(q "EXPLAIN (COSTS OFF) SELECT count(*) FILTER (WHERE classify('par', img) = label) FROM par_images")
like "$plan_default" "Gather" "with default settings the planner chooses a parallel plan for scoring"

# The same per-row results in each worker as in the leader: compare row by row.
is "$(q "$parallel_settings
         SELECT count(*) FROM (SELECT id, classify('par', img) AS c FROM par_images) p
         JOIN (SELECT id, c FROM mlp_classify_batch('par', 'SELECT id, img AS image FROM par_images') b(id, c, conf)) b
           USING (id) WHERE p.c = b.c")" 60000 "mlp_classify_batch agrees with parallel classify() on every row"
is "$(q "SELECT count(*) FILTER (WHERE class = label) FROM mlp_classify_batch('par', 'SELECT id, img AS image FROM par_images') b
         JOIN par_images USING (id)")" "$serial" "mlp_classify_batch gives the same count"
is "$(q "$parallel_settings
         SELECT round(sum(p[1])::numeric, 3) = (SELECT round(sum((predict_proba('par', img))[1])::numeric, 3)
                                                FROM par_images WHERE id <= 5000)
         FROM (SELECT predict_proba('par', img) AS p FROM par_images WHERE id <= 5000) s")" t \
   "predict_proba sums agree between parallel and serial plans"

# Errors inside parallel workers reach the client and leave the session usable.
err=$(q "$parallel_settings
         SELECT count(classify('par', CASE WHEN id = 59999 THEN '1x1x1:00'::image ELSE img END)) FROM par_images")
like "$err" "image has 1 channel but model \"par\" expects 3" "an error in a worker is reported"
is "$(q "$parallel_settings SELECT count(*) FROM par_images WHERE classify('par', img) >= 0")" 60000 \
   "parallel scoring works after an error"

# ---- a new version and a new deployment reach a session that has the model cached ----------
coproc SESSION { psql -X -A -t -q -d "$TESTDB" 2>&1; }
ask() {                     # ask SQL: one line from the long-lived session
    echo "$1" >&"${SESSION[1]}"
    local line
    IFS= read -r -t 60 line <&"${SESSION[0]}"
    echo "$line"
}
probe="(SELECT img FROM par_images WHERE id = 42)"
q "SELECT mlp_deploy('par')" >/dev/null
before=$(ask "SELECT array_to_string(predict_proba('par', $probe), ',');")
before_deployed=$(ask "SELECT classify($probe) = classify('par@1', $probe);")
is "$before_deployed" t "the other session uses the deployed model"
is "$(q "SELECT mlp_import('par', data, input_shape => ARRAY[3, 8, 8]) FROM fixture_files WHERE name = 'bottleneck_bare'")" 2 \
   "a new version is imported from this session"
after=$(ask "SELECT array_to_string(predict_proba('par', $probe), ',');")
v2=$(q "SELECT array_to_string(predict_proba('par@2', $probe), ',')")
ok $([ "$after" != "$before" ] && echo 0 || echo 1) "the other session's next statement sees a changed model"
is "$after" "$v2" "... and it is version 2"
q "SELECT mlp_import('par_s', data) FROM fixture_files WHERE name = 'standard_meta'" >/dev/null
q "SELECT mlp_deploy('par_s')" >/dev/null
is "$(ask "SELECT classify($probe) = classify('par_s', $probe) AND predict_proba('par_s', $probe) <> predict_proba('par', $probe);")" t \
   "the other session's next statement uses the new deployment"
ask "\\q" >/dev/null 2>&1
wait "${SESSION_PID:-}" 2>/dev/null

done_testing

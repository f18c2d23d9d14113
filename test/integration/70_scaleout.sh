#!/usr/bin/env bash
# Scale-out over postgres_fdw on three loopback clusters: this one (the coordinator) and two
# shards it starts, each with mlpscale preloaded.  An image table is partitioned over the
# shards (foreign partitions); a model version is published to both; classify_pinned ships to
# the shards in GROUP BY and WHERE (EXPLAIN VERBOSE shows it in each Remote SQL) with the
# answers of one node; mlp_classify_batch(..., servers) scores every row once on the shards;
# unpublished, altered and conflicting versions are refused; postgres_fdw's password rules
# hold for non-superusers; training reads a partitioned table with foreign partitions.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
. "$MLPSCALE_ROOT/scripts/pg-cluster.sh"
ROWS=${MLPSCALE_SCALEOUT_ROWS:-100000}
HALF=$((ROWS / 2))

# ---- the shards ------------------------------------------------------------------------------
COORD_HOST=$PGHOST COORD_PORT=$PGPORT COORD_DATA=$MLPSCALE_PGDATA
WORK=$(mktemp -d /tmp/mlpscale-scaleout.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres: "$WORK"
declare -A SHOST SPORT SDATA
stop_shards() {
    for s in shard1 shard2; do
        [ -n "${SDATA[$s]:-}" ] && MLPSCALE_PGDATA=${SDATA[$s]} mlp_cluster_stop
    done
    rm -rf "$WORK"
}
trap stop_shards EXIT
[ -n "${MLPSCALE_KEEP_SHARDS:-}" ] && trap - EXIT
for s in shard1 shard2; do
    if ! mlp_test_cluster_start "$WORK/$s" >/dev/null; then echo "Bail out! could not start $s"; exit 1; fi
    SHOST[$s]=$PGHOST SPORT[$s]=$PGPORT SDATA[$s]=$MLPSCALE_PGDATA
done
export PGHOST=$COORD_HOST PGPORT=$COORD_PORT MLPSCALE_PGDATA=$COORD_DATA
on() {      # on SHARD SQL: one value from the shard's database
    psql -X -A -t -q -v ON_ERROR_STOP=1 -h "${SHOST[$1]}" -p "${SPORT[$1]}" -d shard -c "$2" 2>&1
}
# 3x8x8 images made from md5 of the id: the same rows wherever they are made
IMG="image_from_bytes((SELECT decode(string_agg(md5(i::text || '/' || k), '' ORDER BY k), 'hex')
                        FROM generate_series(1, 12) k), 3, 8, 8)"
for s in shard1 shard2; do
    psql -X -q -h "${SHOST[$s]}" -p "${SPORT[$s]}" -d postgres -c "CREATE DATABASE shard" >/dev/null
    on $s "CREATE EXTENSION mlpscale" >/dev/null
done
on shard1 "CREATE TABLE images_p AS SELECT i::bigint AS id, $IMG AS image, 0 AS part, (i % 3)::int AS label
           FROM generate_series(1, $HALF) i" >/dev/null
on shard2 "CREATE TABLE images_p AS SELECT i::bigint AS id, $IMG AS image, 1 AS part, (i % 3)::int AS label
           FROM generate_series($HALF + 1, $ROWS) i" >/dev/null
is "$(on shard1 "SELECT count(*) FROM images_p")/$(on shard2 "SELECT count(*) FROM images_p")" "$HALF/$HALF" \
   "each shard holds half of the $ROWS rows"

# ---- the coordinator ---------------------------------------------------------------------------
new_db it_scaleout
q "CREATE EXTENSION postgres_fdw" >/dev/null
for s in shard1 shard2; do
    q "CREATE SERVER $s FOREIGN DATA WRAPPER postgres_fdw
         OPTIONS (host '${SHOST[$s]}', port '${SPORT[$s]}', dbname 'shard', extensions 'mlpscale',
                  async_capable 'true', fetch_size '10000');
       CREATE USER MAPPING FOR CURRENT_USER SERVER $s OPTIONS (user '$PGUSER')" >/dev/null
done
q "CREATE TABLE images (id bigint, image image, part int, label int) PARTITION BY LIST (part);
   CREATE FOREIGN TABLE images_s1 PARTITION OF images FOR VALUES IN (0) SERVER shard1 OPTIONS (table_name 'images_p');
   CREATE FOREIGN TABLE images_s2 PARTITION OF images FOR VALUES IN (1) SERVER shard2 OPTIONS (table_name 'images_p');
   CREATE TABLE images_local AS SELECT i::bigint AS id, $IMG AS image, (i > $HALF)::int AS part, (i % 3)::int AS label
   FROM generate_series(1, $ROWS) i" >/dev/null
is "$(q "SELECT count(*) FROM images")" "$ROWS" "the partitioned table sees every row through the shards"
q "ANALYZE images_s1, images_s2" >/dev/null     # row counts, so that the planner pushes work down
psql -X -q -d "$TESTDB" -f "$MLPSCALE_ROOT/test/fixtures/scoring_fixture.sql" >/dev/null
is "$(q "SELECT mlp_import('m', data, input_shape => ARRAY[3, 8, 8]) FROM fixture_files WHERE name = 'bottleneck_bare'")" 1 \
   "a model on the coordinator"

# ---- publishing ------------------------------------------------------------------------------
is "$(q "SELECT mlp_publish('m@1', 'shard1')")" "m@1" "mlp_publish returns the reference"
is "$(q "SELECT mlp_publish('m', 'shard2')")" "m@1" "a bare name publishes its latest version"
is "$(q "SELECT mlp_publish('m@1', 'shard1')")" "m@1" "publishing again is a no-op"
is "$(on shard1 "SELECT count(*) || ' ' || min(name || '@' || version) FROM mlpscale.models")" "1 m@1" \
   "the shard holds the one version"
local_hash=$(q "SELECT encode(content_sha256, 'hex') FROM mlpscale.models WHERE name = 'm'")
is "$(on shard1 "SELECT encode(content_sha256, 'hex') FROM mlpscale.models")/$(on shard2 "SELECT encode(content_sha256, 'hex') FROM mlpscale.models")" \
   "$local_hash/$local_hash" "both copies have the coordinator's SHA-256"
is "$(on shard1 "SELECT bool_and(classify_pinned('m@1', image) = classify('m@1', image)) FROM images_p WHERE id <= 200")" t \
   "the shard scores with it"

# ---- classify_pinned ships to the shards -------------------------------------------------------
SET="SET enable_partitionwise_aggregate = on;"
plan=$(q "$SET EXPLAIN (VERBOSE, COSTS OFF) SELECT classify_pinned('m@1', image) AS c, count(*) FROM images GROUP BY 1")
is "$(echo "$plan" | grep -c "Remote SQL: .*public.classify_pinned('m@1'::public.model_ref, image)")" 2 \
   "GROUP BY classify_pinned: each shard classifies its rows (the call is in both Remote SQL)"
# grouped by the partition key too, each shard aggregates its rows whole (partitionwise)
plan=$(q "$SET EXPLAIN (VERBOSE, COSTS OFF) SELECT part, classify_pinned('m@1', image) AS c, count(*) FROM images GROUP BY 1, 2")
is "$(echo "$plan" | grep -c "Remote SQL: SELECT part, public.classify_pinned('m@1'::public.model_ref, image), count(\*) FROM public.images_p GROUP BY 1, 2")" 2 \
   "with the partition key in the GROUP BY, the whole aggregate runs on the shards"
is "$(q "$SET SELECT sum(n) FROM (SELECT part, classify_pinned('m@1', image) AS c, count(*) AS n FROM images GROUP BY 1, 2) x")" "$ROWS" \
   "and counts every row"
grouped=$(q "$SET SELECT string_agg(c || ':' || n, ' ' ORDER BY c) FROM (SELECT classify_pinned('m@1', image) AS c, count(*) AS n FROM images GROUP BY 1) x")
single=$(q "SELECT string_agg(c || ':' || n, ' ' ORDER BY c) FROM (SELECT classify_pinned('m@1', image) AS c, count(*) AS n FROM images_local GROUP BY 1) x")
is "$grouped" "$single" "the shards' GROUP BY equals one node's over $ROWS rows"
diag "classes over $ROWS rows: $grouped"
plan=$(q "EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM images WHERE classify_pinned('m@1', image) = 3")
is "$(echo "$plan" | grep -c "Remote SQL: SELECT id FROM public.images_p WHERE ((public.classify_pinned('m@1'::public.model_ref, image) = 3))")" 2 \
   "a WHERE on the predicted class runs on both shards"
is "$(q "SELECT count(*) FROM images WHERE classify_pinned('m@1', image) = 3")" \
   "$(q "SELECT count(*) FROM images_local WHERE classify_pinned('m@1', image) = 3")" "and finds the rows one node finds"
plan=$(q "EXPLAIN (VERBOSE, COSTS OFF) SELECT id, classify_pinned('m@1', image) FROM images_s1")
ok "$(echo "$plan" | grep -q 'Remote SQL: SELECT id, image FROM'; echo $?)" \
   "a plain select list is evaluated here (the image is fetched): documented, not shipped"

# ---- mlp_classify_batch on the servers ---------------------------------------------------------
q "CREATE TABLE merged AS SELECT * FROM mlp_classify_batch('m@1', 'SELECT id, image FROM images_p', servers => ARRAY['shard1', 'shard2']);
   CREATE TABLE here AS SELECT * FROM mlp_classify_batch('m@1', 'SELECT id, image FROM images_local')" >/dev/null
is "$(q "SELECT count(*) || ' ' || count(DISTINCT id) FROM merged")" "$ROWS $ROWS" "every row comes back once"
is "$(q "SELECT count(*) FROM merged m JOIN here h USING (id) WHERE m.class = h.class AND abs(m.confidence - h.confidence) < 1e-6")" \
   "$ROWS" "with the classes and confidences of local scoring"
like "$(q "SELECT count(*) FROM mlp_classify_batch('m@1', 'SELECT id, image FROM no_such_table', servers => ARRAY['shard1'])")" \
     'ERROR:.*server "shard1": .*no_such_table' "a failing server fails the call with its name"
q "CREATE SERVER dead FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '$WORK', port '1', dbname 'shard');
   CREATE USER MAPPING FOR CURRENT_USER SERVER dead OPTIONS (user '$PGUSER')" >/dev/null
like "$(q "SELECT count(*) FROM mlp_classify_batch('m@1', 'SELECT id, image FROM images_p', servers => ARRAY['shard1', 'dead'])")" \
     'ERROR:.*could not connect to server "dead"' "a server that is down is named"
like "$(q "SELECT count(*) FROM mlp_classify_batch('m@1', 'SELECT 1', servers => ARRAY[]::text[])")" \
     'ERROR:.*servers must name at least one server' "an empty server list"
like "$(q "SELECT count(*) FROM mlp_classify_batch('m@1', 'SELECT 1', servers => ARRAY['shard1', 'shard1'])")" \
     'ERROR:.*names "shard1" twice' "a server named twice"
like "$(q "SELECT count(*) FROM mlp_classify_batch('m@1', 'SELECT 1', servers => ARRAY['nosuch'])")" \
     'ERROR:.*server "nosuch" does not exist' "an unknown server"
like "$(q "SELECT mlp_publish('m@1', 'nosuch')")" 'ERROR:.*server "nosuch" does not exist' "publishing to an unknown server"
q "CREATE EXTENSION file_fdw; CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
   CREATE SERVER bare FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '${SHOST[shard1]}', port '${SPORT[shard1]}', dbname 'postgres');
   CREATE USER MAPPING FOR CURRENT_USER SERVER bare OPTIONS (user '$PGUSER')" >/dev/null
like "$(q "SELECT mlp_publish('m@1', 'files')")" 'ERROR:.*server "files" is a foreign server of "file_fdw", not of postgres_fdw' \
     "a server of another foreign-data wrapper is refused"
like "$(q "SELECT mlp_publish('m@1', 'bare')")" 'ERROR:.*server "bare" has no mlpscale extension in its database.*HINT:.*CREATE EXTENSION mlpscale' \
     "a server whose database lacks mlpscale is named"

# ---- refused versions --------------------------------------------------------------------------
q "SELECT mlp_import('m', data) FROM fixture_files WHERE name = 'standard_meta'" >/dev/null
like "$(q "SELECT count(*) FROM mlp_classify_batch('m@2', 'SELECT id, image FROM images_p', servers => ARRAY['shard1'])")" \
     'ERROR:.*model m@2 is not published on server "shard1".*HINT:.*mlp_publish' "an unpublished version is refused"
like "$(q "SELECT count(*) FROM images WHERE classify_pinned('m@2', image) = 1")" \
     'ERROR:.*model "m" has no version 2' "and refused on the shard through postgres_fdw"
like "$(on shard1 "UPDATE mlpscale.models SET weights = weights || '\\x00'::bytea")" \
     'ERROR:.*model version m@1 is read-only' "a published version cannot be altered on the shard"
on shard2 "SELECT mlp_import('other', data) FROM (SELECT mlp_export('m@1') AS data) x" >/dev/null
q "SELECT mlp_import('other', data) FROM fixture_files WHERE name = 'standard_meta'" >/dev/null
like "$(q "SELECT mlp_publish('other@1', 'shard2')")" \
     'ERROR:.*server "shard2": model version other@1 already exists with other content' \
     "another model under the reference on the shard is an error that says so"
on shard2 "SELECT mlp_drop_model('m@1')" >/dev/null
like "$(on shard2 "SELECT mlp_import('m', mlp_export('other@1'), version => 1)")" 'ERROR:.*version 1 of model "m" cannot be stored: its versions have reached 1' \
     "a dropped version number is not given again, even by version =>"
like "$(q "SELECT mlp_publish('m@1', 'shard2')")" 'ERROR:.*server "shard2": version 1 of model "m" cannot be stored' \
     "nor by mlp_publish"

# ---- postgres_fdw's password rules for non-superusers --------------------------------------------
q "DO \$\$BEGIN CREATE ROLE so_user LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END\$\$;
   GRANT USAGE ON FOREIGN SERVER shard1 TO so_user;
   SELECT mlp_grant('m', 'so_user')" >/dev/null
on shard1 "DO \$\$BEGIN CREATE ROLE so_user LOGIN PASSWORD 'secret'; EXCEPTION WHEN duplicate_object THEN NULL; END\$\$" >/dev/null
q "CREATE USER MAPPING FOR so_user SERVER shard1 OPTIONS (user 'so_user')" >/dev/null
like "$(q_as so_user "SELECT mlp_publish('m@1', 'shard1')")" 'ERROR:.*password is required.*DETAIL:.*must provide a password' \
     "a non-superuser's mapping without a password is refused"
q "ALTER USER MAPPING FOR so_user SERVER shard1 OPTIONS (ADD password 'secret')" >/dev/null
like "$(q_as so_user "SELECT mlp_publish('m@1', 'shard1')")" 'ERROR:.*password is required.*does not request a password' \
     "and a shard that does not ask for it (trust) is refused"
echo "local shard so_user scram-sha-256" >"$WORK/hba"
cat "${SDATA[shard1]}/pg_hba.conf" >>"$WORK/hba"
[ "$(id -u)" = 0 ] && chown postgres: "$WORK/hba"
mlp_as_postgres cp "$WORK/hba" "${SDATA[shard1]}/pg_hba.conf"
on shard1 "SELECT pg_reload_conf()" >/dev/null
on shard1 "GRANT SELECT ON images_p TO so_user" >/dev/null
like "$(q_as so_user "SELECT count(*) FROM mlp_classify_batch('m@1', 'SELECT id, image FROM images_p WHERE id <= 100', servers => ARRAY['shard1'])")" \
     'ERROR:.*model m@1 is not published on server "shard1"' \
     "with password authentication the role connects, and sees only what the shard lets it see"
on shard1 "SELECT mlp_grant('m', 'so_user')" >/dev/null
is "$(q_as so_user "SELECT count(*) FROM mlp_classify_batch('m@1', 'SELECT id, image FROM images_p WHERE id <= 100', servers => ARRAY['shard1'])")" 100 \
   "once the shard's owner shares the model, the role scores there"
like "$(q_as so_user "SELECT mlp_publish('m@1', 'shard2')")" 'ERROR:.*permission denied for foreign server shard2' \
     "without USAGE on a server there is no connection"

# ---- training from a partitioned table with foreign partitions ---------------------------------
run=$(q "SELECT mlp_train('from_shards', 'images', arch => 'B_1-Wi_16', epochs => 1, batch_size => 1024,
                          mixup => 0, augment => false, seed => 1)")
is "$(q "SELECT mlp_wait($run)")" succeeded "a run trains on the foreign partitions"
is "$(q "SELECT train_rows FROM mlpscale.runs WHERE id = $run")" "$ROWS" "reading every row through postgres_fdw"

# ---- a sweep spread over the shards ------------------------------------------------------------
for s in shard1 shard2; do
    on $s "CREATE TABLE train_p AS SELECT id, image, label FROM images_p WHERE id % 50 = 0" >/dev/null
done
TINY="arch => 'B_1-Wi_16', epochs => 2, batch_size => 100, mixup => 0, augment => false"
sw=$(q "SELECT mlp_sweep('dist', 'train_p', '{\"seed\": [1, 2, 3, 4, 5, 6]}', $TINY, servers => ARRAY['shard1', 'shard2'])")
like "$sw" '^[0-9]+$' "mlp_sweep with servers returns the sweep id"
is "$(q "SELECT string_agg(server, ',' ORDER BY k) FROM mlpscale.sweep_remote_runs WHERE sweep_id = $sw")" \
   "shard1,shard2,shard1,shard2,shard1,shard2" "runs go round robin over the servers"
is "$(q "SELECT count(*) FROM mlpscale.runs WHERE sweep_id = $sw")" 0 "none of them runs here"
is "$(q "SELECT mlp_wait_sweep($sw)")" succeeded "the sweep over two shards completes"
is "$(q "SELECT runs || ' ' || succeeded || ' ' || status FROM mlpscale.sweeps WHERE id = $sw")" "6 6 succeeded" \
   "mlpscale.sweeps counts the remote runs"
is "$(on shard1 "SELECT string_agg(model_name, ',' ORDER BY id) FROM mlpscale.runs WHERE model_name LIKE 'dist/%'")/$(on shard2 "SELECT count(*) FROM mlpscale.runs WHERE model_name LIKE 'dist/%' AND status = 'succeeded'")" \
   "dist/1,dist/3,dist/5/3" "each shard trained its runs, named after the sweep"
is "$(q "SELECT count(*) || ' ' || min(sweep) || ' ' || bool_and(params > 0 AND train_size = 1000 AND epochs = 2 AND seed BETWEEN 1 AND 6)
         FROM mlp_sweep_results($sw)")" "6 dist true" "mlp_sweep_results reads the results from the shards"
is "$(q "SELECT count(*) || ' ' || count(DISTINCT k) || ' ' || string_agg(DISTINCT server, ',') || ' ' || bool_and(examples_seen = 1000 * epoch AND train_loss > 0 AND run_id > 0)
         FROM mlp_sweep_epochs($sw)")" "12 6 shard1,shard2 true" "mlp_sweep_epochs reads the epochs of every run from its shard"
is "$(q "SELECT bool_and(e.run_id = r.remote_run_id AND e.server = r.server) FROM mlp_sweep_epochs($sw) e
         JOIN mlpscale.sweep_remote_runs r ON r.sweep_id = $sw AND r.k = e.k")" t "with the shard's run id"
is "$(q "SELECT mlp_sweep('dist', 'train_p', '{\"seed\": [1, 2, 3, 4, 5, 6]}', $TINY, servers => ARRAY['shard1', 'shard2'])")" "$sw" \
   "the same distributed sweep again is the same sweep"
psql -X -A -t -q -d "$TESTDB" >/dev/null 2>&1 <<SQL
BEGIN;
SELECT mlp_sweep('rolled_back', 'train_p', '{"seed": [1, 2]}', $TINY, servers => ARRAY['shard1', 'shard2']);
ROLLBACK;
SQL
is "$(on shard1 "SELECT count(*) FROM mlpscale.runs WHERE model_name LIKE 'rolled_back/%'")$(on shard2 "SELECT count(*) FROM mlpscale.runs WHERE model_name LIKE 'rolled_back/%'")" "00" \
   "a rolled-back mlp_sweep leaves no run on any server"
like "$(q "SELECT mlp_sweep('bad_src', 'no_such', '{\"seed\": [1]}', $TINY, servers => ARRAY['shard1'])")" \
     'ERROR:.*server "shard1": .*no_such' "a source missing on a server is an error of the call"
like "$(q "SELECT mlp_sweep('bad_srv', 'train_p', '{\"seed\": [1]}', $TINY, servers => ARRAY['nosuch'])")" \
     'ERROR:.*server "nosuch" does not exist' "an unknown server"
like "$(q "SELECT mlp_sweep('bad_srv', 'train_p', '{\"seed\": [1]}', $TINY, servers => ARRAY['shard1', 'shard1'])")" \
     'ERROR:.*servers names "shard1" twice' "a server named twice"
like "$(q "SELECT mlp_sweep('bad_srv', 'train_p', '{\"seed\": [1]}', $TINY, servers => ARRAY[]::text[])")" \
     'ERROR:.*servers must name at least one server' "an empty server list"
is "$(q "SELECT count(*) FROM mlpscale.sweep_definitions WHERE name LIKE 'bad%' OR name = 'rolled_back'")" 0 \
   "failed calls leave no sweep"

# ---- canceling a sweep on the shards ------------------------------------------------------------
next1=$(on shard1 "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM mlpscale.runs_id_seq")
psql -X -q -h "${SHOST[shard1]}" -p "${SPORT[shard1]}" -d shard >/dev/null 2>&1 <<SQL &
SELECT pg_advisory_lock($next1, 0), pg_advisory_lock($((next1 + 1)), 0);
SELECT pg_sleep(3600);
SQL
hold1_pid=$!
on1_until() {   # on1_until SQL: polls shard1 until SQL is true (at most 300 s)
    for _ in $(seq 1 600); do [ "$(on shard1 "$1")" = t ] && return 0; sleep 0.5; done; return 1
}
ok "$(on1_until "SELECT count(*) = 2 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND objid = 0"; echo $?)" \
   "shard1's next runs are held"
sw3=$(q "SELECT mlp_sweep('dist3', 'train_p', '{\"seed\": [1, 2]}', $TINY, servers => ARRAY['shard1'])")
ok "$(on1_until "SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 2 AND objid = 0"; echo $?)" \
   "the sweep's first run waits on shard1, the second is queued there"
is "$(q "SELECT mlp_wait_sweep($sw3, 0)")" running "mlp_wait_sweep with a timeout reads the running status from the shard"
is "$(q "SELECT mlp_cancel_sweep($sw3)")" 2 "mlp_cancel_sweep cancels the running and the queued run on the shard"
kill "$hold1_pid" 2>/dev/null; wait "$hold1_pid" 2>/dev/null
on shard1 "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND objid = 0" >/dev/null
is "$(q "SELECT mlp_wait_sweep($sw3)")" canceled "the sweep ends canceled"
is "$(on shard1 "SELECT string_agg(status, ',') FROM mlpscale.runs WHERE model_name LIKE 'dist3/%'")" "canceled,canceled" \
   "both runs are canceled on the shard"

# ---- a shard that goes down mid-sweep ------------------------------------------------------------
# shard2's next two run ids are held at their start (mlpscale.test_hold_points) by a session
# there, so they are running, not done, when the shard stops.
next=$(on shard2 "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM mlpscale.runs_id_seq")
psql -X -q -h "${SHOST[shard2]}" -p "${SPORT[shard2]}" -d shard >/dev/null 2>&1 <<SQL &
SELECT pg_advisory_lock($next, 0), pg_advisory_lock($((next + 1)), 0);
SELECT pg_sleep(3600);
SQL
held_pid=$!
held_until() {  # held_until SQL: polls shard2 until SQL is true (at most 300 s)
    for _ in $(seq 1 600); do [ "$(on shard2 "$1")" = t ] && return 0; sleep 0.5; done; return 1
}
ok "$(held_until "SELECT count(*) = 2 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND objid = 0"; echo $?)" \
   "shard2's next runs are held"
sw2=$(q "SELECT mlp_sweep('dist2', 'train_p', '{\"seed\": [1, 2, 3, 4]}', $TINY, servers => ARRAY['shard1', 'shard2'])")
ok "$(held_until "SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 2 AND objid = 0"; echo $?)" \
   "a run of the sweep waits on shard2"
MLPSCALE_PGDATA=${SDATA[shard2]} mlp_cluster_stop
wait "$held_pid" 2>/dev/null
out=$(psql -X -A -t -q -d "$TESTDB" -c "SELECT mlp_wait_sweep($sw2)" 2>&1)
like "$out" 'WARNING:.*server "shard2" cannot be reached' "waiting says that shard2 cannot be reached"
like "$out" 'interrupted$' "and the sweep ends interrupted once shard1's runs are done"
is "$(q "SELECT string_agg(server || ':' || status, ',' ORDER BY k) FROM mlpscale.sweep_remote_runs WHERE sweep_id = $sw2")" \
   "shard1:succeeded,shard2:unreachable,shard1:succeeded,shard2:unreachable" "its runs there are marked unreachable"
is "$(q "SELECT unreachable || ' ' || status FROM mlpscale.sweeps WHERE id = $sw2")" "2 interrupted" "mlpscale.sweeps shows them"
like "$(q "SET client_min_messages = error; SELECT mlp_resume_sweep($sw2)")" 'ERROR:.*could not connect to server "shard2"' \
     "resuming them where they were needs their server up"
is "$(q "SET client_min_messages = error; SELECT mlp_resume_sweep($sw2, servers => ARRAY['shard1'])")" 2 "mlp_resume_sweep queues them on another server"
is "$(q "SELECT mlp_wait_sweep($sw2)")" succeeded "where they finish"
is "$(q "SELECT string_agg(server, ',' ORDER BY k) FROM mlpscale.sweep_remote_runs WHERE sweep_id = $sw2")" \
   "shard1,shard1,shard1,shard1" "the runs now point to shard1"
is "$(q "SELECT count(*) FROM mlp_sweep_results($sw2)")" 4 "every run has its results"
like "$(q "SELECT mlp_resume_sweep($sw2, servers => ARRAY[]::text[])")" 'ERROR:.*servers must name at least one server' \
     "resuming onto no server"

done_testing

#!/usr/bin/env bash
# Security (issue 10): a role with default privileges gains nothing through mlpscale.  The
# attacks of the issue, each a test: types shadowed in pg_temp, operators and functions of a
# schema the role puts first on its search_path, settings that user SQL leaves in a training
# worker, what user SQL sees of its identity there, a source name resolved twice, and the
# smaller findings (model_cache_size, source mistakes found late, absurd imported weights).
# A successful attack makes the role a superuser: every attack test ends with
# pg_roles.rolsuper read as the superuser, and the role is reset before the next one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
. "$(dirname "$0")/security_helpers.sh"
new_db it_security
sec_roles

# ---- setup: data and one tiny model per attacking role (nothing hijacked yet) ------------
make_bands sec_bands 300 0.4
q "CREATE TABLE carol_data AS SELECT id::bigint AS id, image, label FROM sec_bands;
   ALTER TABLE carol_data OWNER TO sec_carol;
   CREATE TABLE bob_data AS SELECT id::bigint AS id, image, label FROM sec_bands;
   ALTER TABLE bob_data OWNER TO sec_bob;
   CREATE SCHEMA bobschema AUTHORIZATION sec_bob;" >/dev/null
for who in carol:c_m bob:b_m; do
    run=$(q_as "sec_${who%%:*}" "SELECT mlp_train('${who#*:}', '${who%%:*}_data', $SEC_TINY)")
    is "$(q "SELECT mlp_wait($run)")" succeeded "setup: sec_${who%%:*} trains model ${who#*:}"
done

# ---- 1. types shadowed by pg_temp domains --------------------------------------------------
# Only TEMP is needed: a domain pg_temp.T whose CHECK runs pg_temp.sec_escalate() wins over
# pg_catalog.T wherever SQL that runs as the extension owner spells the type T (a cast such
# as $1::jsonb).  SQL keywords (bigint, integer, boolean, real) are parsed as pg_catalog
# types, so their shadows are the internal names int8, int4, bool, float4; real[],
# integer[] and text[] are spelled _float4, _int4 and _text, and text[] also follows a
# shadowed text.  Relations are looked up in pg_temp even before pg_catalog: one more
# session shadows catalog views and mlpscale's tables with temporary views.  Each session
# calls every mlpscale function that reads or writes the experiment tables, each call
# valid, so all of them must also succeed.
# shadow_session WHAT SQL: SQL creates the shadows, then the calls; the two tests.
shadow_session() {
    local out errors
    out=$({ sec_escalate_sql pg_temp sec_carol; echo "$2"; cat <<'SQL'; } | psql_as sec_carol -v tiny="$SEC_TINY"
BEGIN;
SELECT mlp_train('c_t', 'carol_data', :tiny) AS run \gset
SELECT mlp_cancel(:run);
SELECT mlp_finetune('c_ft', 'c_m', 'carol_data', epochs => 1, batch_size => 64, seed => 1) AS ftrun \gset
SELECT mlp_cancel(:ftrun);
COMMIT;
SELECT mlp_resume(:run);
SELECT 'wait=' || mlp_wait(:run);
SELECT 'c_m@' || mlp_import('c_m', mlp_export('c_m')) AS ref \gset
SELECT mlp_deploy('c_m');
SELECT classify('c_m', image), predict_proba('c_m', image), classify_label('c_m', image),
       classify(image)
  FROM carol_data LIMIT 1;
SELECT count(*) FROM classify_topk('c_m', (SELECT image FROM carol_data LIMIT 1), 2);
SELECT count(*) FROM mlp_classify_batch('c_m', 'SELECT id, image FROM carol_data');
SELECT n FROM mlp_evaluate('c_m', 'carol_data');
SELECT count(*) FROM mlpscale.progress;
SELECT classify_pinned(:'ref', image), predict_proba_pinned(:'ref', image) FROM carol_data LIMIT 1;
SELECT mlp_import('c_m', mlp_export(:'ref'), version => split_part(:'ref', '@', 2)::int);
BEGIN;
SELECT mlp_sweep('c_sw', 'carol_data', '{"seed": [1, 2]}', :tiny, train_size => 9) AS sweep \gset
SELECT mlp_cancel_sweep(:sweep);
COMMIT;
SELECT 'sweep=' || mlp_wait_sweep(:sweep);
SELECT count(*) FROM mlpscale.sweeps;
SELECT count(*) FROM mlpscale.results;
SELECT mlp_drop_model(:'ref');
SQL
)
    errors=$(grep -m1 'ERROR' <<<"$out")
    ok "$([ -z "$errors" ] && grep -q '^wait=succeeded$' <<<"$out"; echo $?)" \
       "$1: every call succeeds${errors:+ ($errors)}"
    not_superuser sec_carol "$1: the role is not superuser after every mlpscale call"
}
for spec in text:text int8:int8 int4:int4 int2:int2 oid:oid bool:bool float4:float4 \
            float8:float8 numeric:numeric timestamptz:timestamptz interval:interval \
            jsonb:jsonb json:json bytea:bytea name:name regclass:regclass regrole:regrole \
            varchar:varchar _float4:float4[] _int4:int4[] _text:text[] _int8:int8[]; do
    shadow=${spec%%:*} base=pg_catalog.${spec#*:}
    shadow_session "pg_temp.$shadow shadowing $base" \
        "CREATE DOMAIN pg_temp.\"$shadow\" AS $base CHECK (pg_temp.sec_escalate());"
done
views=""
for rel in pg_catalog.pg_roles pg_catalog.pg_auth_members pg_catalog.pg_class \
           pg_catalog.pg_namespace pg_catalog.pg_proc pg_catalog.pg_extension \
           pg_catalog.pg_database pg_catalog.pg_settings pg_catalog.pg_stat_activity \
           mlpscale.runs mlpscale.models mlpscale.epochs mlpscale.checkpoints \
           mlpscale.deployment mlpscale.progress mlpscale.model_grants; do
    # a relation the role may not read, or that does not exist (yet), is left out
    views+="DO \$\$BEGIN CREATE VIEW pg_temp.${rel#*.} AS SELECT * FROM $rel WHERE pg_temp.sec_escalate();
            EXCEPTION WHEN undefined_table OR insufficient_privilege THEN NULL; END\$\$;
"
done
shadow_session "pg_temp views shadowing catalog views and mlpscale's tables" "$views"

# ---- 2. operators and functions of the role's own schema, first on its search_path -------
# bobschema holds look-alikes of =, <>, <, >, <=, >=, +, -, ||, ->>, ->, now(), max(),
# count(*) and others (security_helpers.sh), each making sec_bob a superuser when it runs as
# one and otherwise returning what pg_catalog's would.  Each function is called in a session
# whose search_path is 'bobschema, pg_catalog, public' only around that call; what the call
# needs is prepared before, with the default path.
{ sec_escalate_sql bobschema sec_bob; sec_hijack_sql bobschema; } |
    psql -X -q -v ON_ERROR_STOP=1 -U sec_bob -d "$TESTDB" >/dev/null 2>&1
is "$(q "SELECT count(*) FROM pg_operator WHERE oprnamespace = 'bobschema'::regnamespace")" \
   "$(sec_hijack_sql bobschema | grep -c '^CREATE OPERATOR')" "setup: sec_bob's look-alike operators exist"

# hijack_call NAME PREPARE CALL AFTER: the session and its two tests.
hijack_call() {
    local out errors
    out=$(psql_as sec_bob -v tiny="$SEC_TINY" <<SQL
$2
SET search_path = bobschema, pg_catalog, public;
$3
RESET search_path;
$4
SQL
)
    errors=$(grep -m1 'ERROR' <<<"$out")
    is "$errors" "" "$1 with bobschema first on search_path succeeds"
    not_superuser sec_bob "$1 with bobschema first on search_path: the role is not superuser"
}
hijack_call mlp_train "BEGIN;" "SELECT mlp_train('b_t', 'bob_data', :tiny) AS run \gset" \
    "SELECT mlp_cancel(:run); COMMIT;"
hijack_call mlp_finetune "BEGIN;" \
    "SELECT mlp_finetune('b_ft', 'b_m', 'bob_data', epochs => 1, batch_size => 64) AS run \gset" \
    "SELECT mlp_cancel(:run); COMMIT;"
hijack_call "mlp_cancel of a queued run" "BEGIN; SELECT mlp_train('b_t', 'bob_data', :tiny) AS run \gset" \
    "SELECT mlp_cancel(:run);" "COMMIT;"
hijack_call mlp_resume \
    "BEGIN; SELECT mlp_train('b_t', 'bob_data', :tiny) AS run \gset
     SELECT mlp_cancel(:run); COMMIT; BEGIN;" \
    "SELECT mlp_resume(:run);" "SELECT mlp_cancel(:run); COMMIT;"
hijack_call mlp_wait "SELECT max(id) AS run FROM mlpscale.runs WHERE model_name = 'b_m' \gset" \
    "SELECT mlp_wait(:run);" ""
hijack_call mlp_import "CREATE TEMP TABLE w AS SELECT mlp_export('b_m') AS d;" \
    "SELECT mlp_import('b_m', (SELECT d FROM w)) AS v \gset" "SELECT mlp_drop_model('b_m@' || :v);"
hijack_call mlp_export "" "SELECT length(mlp_export('b_m')) > 100;" ""
hijack_call mlp_deploy "" "SELECT mlp_deploy('b_m');" ""
hijack_call "classify(image) of the deployed model" "SELECT mlp_deploy('b_m');" \
    "SELECT classify(image) FROM bob_data LIMIT 1;" ""
hijack_call mlp_drop_model "SELECT 'b_m@' || mlp_import('b_m', mlp_export('b_m')) AS ref \gset" \
    "SELECT mlp_drop_model(:'ref');" ""
hijack_call classify "" "SELECT classify('b_m', image) FROM bob_data LIMIT 1;" ""
hijack_call classify_label "" "SELECT classify_label('b_m', image) FROM bob_data LIMIT 1;" ""
hijack_call predict_proba "" "SELECT predict_proba('b_m', image) FROM bob_data LIMIT 1;" ""
hijack_call classify_topk "" \
    "SELECT count(*) FROM classify_topk('b_m', (SELECT image FROM public.bob_data LIMIT 1), 2);" ""
hijack_call mlp_classify_batch "" \
    "SELECT count(*) FROM mlp_classify_batch('b_m', 'SELECT id, image FROM public.bob_data');" ""
hijack_call mlp_evaluate "" "SELECT n FROM mlp_evaluate('b_m', 'public.bob_data');" ""
hijack_call mlpscale.progress "" "SELECT count(*) FROM mlpscale.progress;" ""
hijack_call classify_pinned "SELECT 'b_m@' || max(version) AS ref FROM mlpscale.models WHERE name = 'b_m' \gset" \
    "SELECT classify_pinned(:'ref', image), predict_proba_pinned(:'ref', image) FROM bob_data LIMIT 1;" ""
hijack_call "mlp_import with version" \
    "SELECT max(version) AS v FROM mlpscale.models WHERE name = 'b_m' \gset
     CREATE TEMP TABLE wv AS SELECT mlp_export('b_m@' || :v) AS d;" \
    "SELECT mlp_import('b_m', (SELECT d FROM wv), version => :v);" ""
hijack_call mlp_sweep "BEGIN;" \
    "SELECT mlp_sweep('b_sw', 'bob_data', '{\"seed\": [1, 2]}', :tiny, train_size => 9) AS sweep \gset" \
    "SELECT mlp_cancel_sweep(:sweep); COMMIT;"
hijack_call mlp_cancel_sweep "BEGIN; SELECT mlp_sweep('b_sw2', 'bob_data', '{\"seed\": [1, 2]}', :tiny) AS sweep \gset" \
    "SELECT mlp_cancel_sweep(:sweep);" "COMMIT;"
hijack_call mlp_wait_sweep "SELECT max(id) AS sweep FROM mlpscale.sweep_definitions \gset" \
    "SELECT mlp_wait_sweep(:sweep);" ""
hijack_call mlp_resume_sweep "SELECT max(id) AS sweep FROM mlpscale.sweep_definitions \gset" \
    "SELECT mlp_resume_sweep(:sweep);" "SELECT mlp_cancel_sweep(:sweep);"
hijack_call mlp_sweep_results "SELECT max(id) AS sweep FROM mlpscale.sweep_definitions \gset" \
    "SELECT count(*) FROM mlp_sweep_results(:sweep);" ""
hijack_call "mlpscale.sweeps and mlpscale.results" "" \
    "SELECT count(*) FROM mlpscale.sweeps; SELECT count(*) FROM mlpscale.results;" ""

# ---- 3. through the training worker ------------------------------------------------------
# User SQL runs in the worker as the run's role; whatever it sets must not outlive it, and
# bobschema's look-alikes must never run there as a superuser.  sec_probe(tag) records what
# user SQL sees of its identity in a table the role owns; sec_leak(tag) records and sets
# search_path to bobschema first for the rest of the session.  (Since PostgreSQL 15 an
# ordinary role cannot create in public: bob's objects are in his own schema.)
out=$(psql -X -q -v ON_ERROR_STOP=1 -U sec_bob -d "$TESTDB" 2>&1 <<'SQL'
CREATE TABLE bobschema.bob_probe (tag text, session_user_ text, current_user_ text, is_superuser text);
CREATE FUNCTION bobschema.sec_probe(tag text) RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $f$
BEGIN
    INSERT INTO bobschema.bob_probe VALUES (tag, session_user, current_user, current_setting('is_superuser'));
    RETURN true;
END $f$;
CREATE FUNCTION bobschema.sec_leak(tag text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO bobschema.bob_probe
        VALUES (tag, session_user, current_user, pg_catalog.current_setting('is_superuser'));
    PERFORM pg_catalog.set_config('search_path', 'bobschema, pg_catalog, public', false);
    RETURN true;
END $f$;
CREATE FUNCTION bobschema.sec_settings() RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'bobschema, pg_catalog, public', false);
    PERFORM pg_catalog.set_config('statement_timeout', '1', false);
    PERFORM pg_catalog.set_config('lock_timeout', '1', false);
    RETURN true;
END $f$;
CREATE FUNCTION bobschema.sec_become(how text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE how;
    INSERT INTO bobschema.bob_probe
        VALUES (how, session_user, current_user, pg_catalog.current_setting('is_superuser'));
    RETURN true;
END $f$;
CREATE VIEW bobschema.bob_settings_view AS
    SELECT image, label FROM public.bob_data WHERE bobschema.sec_settings();
CREATE VIEW bobschema.bob_volatile_view AS
    SELECT image, label, bobschema.sec_leak('volatile view') AS x FROM public.bob_data;
CREATE TABLE bobschema.bob_rls AS SELECT * FROM public.bob_data;
ALTER TABLE bobschema.bob_rls ENABLE ROW LEVEL SECURITY;
ALTER TABLE bobschema.bob_rls FORCE ROW LEVEL SECURITY;
CREATE POLICY bob_rls_read ON bobschema.bob_rls USING (bobschema.sec_leak('row security policy'));
SQL
)
is "$out" "" "setup: sec_bob's probe table, functions, views and row security policy"

# worker_run NAME SOURCE: bob trains on SOURCE; prints the final status, or "refused: ERROR"
# when mlp_train itself refuses.
worker_run() {
    local run
    run=$(q_as sec_bob "SELECT mlp_train('b_w', \$src\$$1\$src\$, $SEC_TINY)")
    [[ $run =~ ^[0-9]+$ ]] || { echo "refused: $run"; return; }
    q "SELECT mlp_wait($run) || coalesce(': ' || error, '') FROM mlpscale.runs WHERE id = $run"
}
is "$(worker_run "SELECT image, label FROM public.bob_data
                  WHERE pg_catalog.set_config('search_path', 'bobschema, pg_catalog, public', false) IS NOT NULL")" \
   succeeded "a source query that sets search_path to the role's schema: the run succeeds"
not_superuser sec_bob "... and the role is not superuser after the run (worker bookkeeping)"
is "$(worker_run "SELECT image, label FROM public.bob_data
                  WHERE pg_catalog.set_config('default_transaction_read_only', 'on', false) IS NOT NULL")" \
   succeeded "a source query that sets default_transaction_read_only: the run succeeds"
not_superuser sec_bob "... and the role is not superuser"
is "$(worker_run bobschema.bob_settings_view)" succeeded \
   "a source view whose function sets search_path, statement_timeout, lock_timeout: the run succeeds"
not_superuser sec_bob "... and the role is not superuser"
q "TRUNCATE bobschema.bob_probe" >/dev/null
is "$(worker_run bobschema.bob_volatile_view)" succeeded \
   "a source view with a volatile function in its select list (records, sets search_path): the run succeeds"
ge "$(q "SELECT count(*) FROM bobschema.bob_probe WHERE tag = 'volatile view'")" 1 "... the view's function ran in the worker"
not_superuser sec_bob "... and the role is not superuser"
is "$(worker_run bobschema.bob_rls)" succeeded \
   "a source table whose forced row security policy calls a function (records, sets search_path): the run succeeds"
ge "$(q "SELECT count(*) FROM bobschema.bob_probe WHERE tag = 'row security policy'")" 1 "... the policy's function ran in the worker"
not_superuser sec_bob "... and the role is not superuser"

q "TRUNCATE bobschema.bob_probe" >/dev/null
worker_run "WITH p AS MATERIALIZED (SELECT bobschema.sec_probe('identity') AS x)
            SELECT t.image, t.label FROM public.bob_data t, p WHERE p.x" >/dev/null
ge "$(q "SELECT count(*) FROM bobschema.bob_probe WHERE tag = 'identity'")" 1 "the probe source ran in the worker"
is "$(q "SELECT string_agg(DISTINCT current_user_, ',') FROM bobschema.bob_probe WHERE tag = 'identity'")" sec_bob \
   "user SQL in the worker runs as the run's role (current_user)"
is "$(q "SELECT string_agg(DISTINCT session_user_, ',') FROM bobschema.bob_probe WHERE tag = 'identity'")" sec_bob \
   "user SQL in the worker sees the run's role as session_user"
is "$(q "SELECT string_agg(DISTINCT is_superuser, ',') FROM bobschema.bob_probe WHERE tag = 'identity'")" off \
   "user SQL in the worker sees is_superuser = off"

q "TRUNCATE bobschema.bob_probe" >/dev/null
for how in "SET ROLE postgres" "SET SESSION AUTHORIZATION postgres" "SELECT pg_catalog.set_config('role', 'postgres', false)"; do
    like "$(worker_run "SELECT image, label FROM public.bob_data WHERE bobschema.sec_become(\$h\$$how\$h\$)")" \
         "^(failed|refused)" "a source that runs $how fails the run or is refused"
done
is "$(q "SELECT count(*) FROM bobschema.bob_probe")" 0 "... none of them got past the switch"
not_superuser sec_bob "... and the role is not superuser"

# Settings of the role itself (a role may set its own): PostgreSQL applies them to a worker
# that connects as the role, so they must not reach the worker's own statements either.
q_as sec_bob "ALTER ROLE sec_bob SET search_path = bobschema, pg_catalog, public" >/dev/null
is "$(worker_run "SELECT image, label FROM public.bob_data")" succeeded \
   "with search_path = bobschema first as a setting of the role: the run succeeds"
not_superuser sec_bob "... and the role is not superuser"
q "ALTER ROLE sec_bob RESET ALL" >/dev/null
q_as sec_bob "ALTER ROLE sec_bob SET default_transaction_read_only = on" >/dev/null
run=$(psql_as sec_bob -v tiny="$SEC_TINY" <<'SQL' | tail -1
SET default_transaction_read_only = off;
SELECT mlp_train('b_w', 'public.bob_data', :tiny);
SQL
)
is "$(q "SELECT mlp_wait(${run:-0}) || coalesce(': ' || error, '') FROM mlpscale.runs WHERE id = ${run:-0}")" \
   succeeded "with default_transaction_read_only = on as a setting of the role: the run succeeds"
q "ALTER ROLE sec_bob RESET ALL" >/dev/null

# ---- 4. the source is resolved once, with the caller's search_path -----------------------
q "CREATE SCHEMA proj; GRANT USAGE ON SCHEMA proj TO sec_alice;" >/dev/null
make_bands proj.train 120 0.51
make_bands public.train 200 0.52
make_bands proj.val 50 0.53
make_bands public.val 80 0.54
q "GRANT SELECT ON proj.train, public.train, proj.val, public.val TO sec_alice" >/dev/null
run=$(q_as sec_alice "SET search_path = proj, public;
                      SELECT mlp_train('m4', 'train', $SEC_TINY, validation => 'val')" | tail -1)
is "$(q "SELECT mlp_wait($run)")" succeeded "setup: with search_path proj, public, alice trains on 'train'"
is "$(q "SELECT train_rows FROM mlpscale.runs WHERE id = $run")" 120 \
   "the run trained on proj.train (120 rows), not public.train (200)"
like "$(q "SELECT source FROM mlpscale.runs WHERE id = $run")" '^"?proj"?\."?train"?$' \
   "the stored source names proj.train"
is "$(q "SELECT validation_rows FROM mlpscale.runs WHERE id = $run")" 50 \
   "the run validated on proj.val (50 rows), not public.val (80)"
like "$(q "SELECT validation FROM mlpscale.runs WHERE id = $run")" '^"?proj"?\."?val"?$' \
   "the stored validation names proj.val"

# ---- 6. smaller findings --------------------------------------------------------------------
is "$(state_as sec_carol "SET mlpscale.model_cache_size = 1000")" 42501 \
   "SET mlpscale.model_cache_size by a non-superuser: 42501"
is "$(state_as sec_carol "SELECT set_config('mlpscale.model_cache_size', '1000', false)")" 42501 \
   "set_config of mlpscale.model_cache_size by a non-superuser: 42501"
is "$(state_as postgres "SET mlpscale.model_cache_size = 1000")" ok "a superuser may set it"

q "CREATE TABLE sec_secret AS SELECT * FROM sec_bands;
   CREATE TABLE carol_nolabel AS SELECT id, image FROM sec_bands;
   ALTER TABLE carol_nolabel OWNER TO sec_carol;" >/dev/null
before=$(q "SELECT count(*) FROM mlpscale.runs")
like "$(error_as sec_carol "SELECT mlp_train('c_bad', 'carol_data', $SEC_TINY, image_column => 'imgae')")" \
   '^42703: .*imgae' "a misspelt image column is an error of mlp_train (42703, names the column)"
like "$(error_as sec_carol "SELECT mlp_train('c_bad', 'carol_data', $SEC_TINY, label_column => 'lable')")" \
   '^42703: .*lable' "a misspelt label column is an error of mlp_train (42703, names the column)"
like "$(error_as sec_carol "SELECT mlp_train('c_bad', 'carol_data', $SEC_TINY, validation => 'carol_nolabel')")" \
   '^42703: .*label' "... and a validation source without the label column"
like "$(error_as sec_carol "SELECT mlp_train('c_bad', 'sec_secret', $SEC_TINY)")" \
   '^42501: .*sec_secret' "a source table the caller cannot SELECT is an error of mlp_train (42501, names the table)"
like "$(error_as sec_carol "SELECT mlp_train('c_bad', 'carol_data', $SEC_TINY, validation => 'sec_secret')")" \
   '^42501: .*sec_secret' "... and so is such a validation table"
is "$(q "SELECT count(*) - $before FROM mlpscale.runs")" 0 "... none of them queued a run"

# sec_patch(data, tensor, element, bytes): the safetensors file with 4 bytes of one float32
# element of a tensor replaced (little endian), found through the file's JSON header.
q "CREATE FUNCTION sec_patch(d bytea, tensor text, elem int, val bytea) RETURNS bytea
   LANGUAGE sql IMMUTABLE AS \$\$
   WITH h AS (SELECT get_byte(d, 0) + get_byte(d, 1) * 256 + get_byte(d, 2) * 65536
                     + get_byte(d, 3) * 16777216::bigint AS n),
        j AS (SELECT n, convert_from(substring(d FROM 9 FOR n::int), 'UTF8')::jsonb AS hdr FROM h)
   SELECT overlay(d PLACING val
                  FROM (9 + n + (hdr -> tensor -> 'data_offsets' ->> 0)::int + 4 * elem)::int FOR 4)
   FROM j \$\$" >/dev/null
is "$(q_as sec_carol "SELECT mlp_import('c_same', sec_patch(mlp_export('c_m'), 'linear_in.weight', 3,
                                                      '\\x0000003f'::bytea)) > 0")" t \
   "setup: a model patched with an ordinary value (0.5) imports"
for spec in "NaN:linear_in.weight:\\x0000c07f" "+Inf:linear_in.weight:\\x0000807f" \
            "-Inf:linear_out.weight:\\x000080ff" "1e38:linear_out.bias:\\x9976967e" \
            "-1e38:blocks.0.block.0.weight:\\x997696fe"; do
    IFS=: read -r what tensor bytes <<<"$spec"
    like "$(error_as sec_carol "SELECT mlp_import('c_bad', sec_patch(mlp_export('c_m'), '$tensor', 1, '$bytes'::bytea))")" \
         "^22023: .*$tensor" "mlp_import refuses $what in $tensor (22023, names the tensor)"
done
like "$(error_as sec_carol "SELECT mlp_import('c_bad', mlp_export('c_m'), std => '{1e-45}')")" \
     '^22023: .*std' "mlp_import refuses a std of 1e-45 (22023, names std)"
is "$(q "SELECT count(*) FROM mlpscale.models WHERE name = 'c_bad'")" 0 "... no such model was stored"

done_testing

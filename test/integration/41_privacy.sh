#!/usr/bin/env bash
# Privacy (issue 10): models, runs, epochs and checkpoints belong to the role that made them.
# Another role sees none of them and using another role's model is refused with 42501,
# unless the owner shares it with mlp_grant(model, role) ('public': every role), which
# mlp_revoke undoes and mlpscale.model_grants lists; superusers see everything.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
. "$(dirname "$0")/security_helpers.sh"
new_db it_privacy
sec_roles

make_bands priv_bands 300 0.7
for r in alice bob carol; do
    q "CREATE TABLE ${r}_data AS SELECT id::bigint AS id, image, label FROM priv_bands;
       ALTER TABLE ${r}_data OWNER TO sec_$r" >/dev/null
done
# img ROLE: an image of ROLE's own table; data ROLE: the table (what ROLE may read itself).
img() { echo "(SELECT image FROM ${1#sec_}_data ORDER BY id LIMIT 1)"; }
data() { echo "${1#sec_}_data"; }

# ---- alice's model, runs, epochs and checkpoints -------------------------------------------
a_run=$(q_as sec_alice "SELECT mlp_train('alice_m', 'alice_data', $SEC_TINY)")
is "$(q "SELECT mlp_wait($a_run)")" succeeded "setup: alice trains alice_m"
c_run=$(psql_as sec_alice -v tiny="$SEC_TINY" <<'SQL' | tail -1
BEGIN;
SELECT mlp_train('alice_c', 'alice_data', :tiny) AS r \gset
SELECT mlp_cancel(:r);
COMMIT;
SELECT :r;
SQL
)
is "$(q "SELECT status FROM mlpscale.runs WHERE id = $c_run")" canceled "setup: alice has a canceled run"
b_run=$(q_as sec_bob "SELECT mlp_train('bob_m', 'bob_data', $SEC_TINY)")
is "$(q "SELECT mlp_wait($b_run)")" succeeded "setup: bob trains bob_m"

# ---- the superuser sees everything ----------------------------------------------------------
is "$(q "SELECT (SELECT count(*) FROM mlpscale.models WHERE name = 'alice_m') || ',' ||
                (SELECT count(*) FROM mlpscale.runs WHERE run_as = 'sec_alice'::regrole) || ',' ||
                (SELECT count(*) FROM mlpscale.epochs WHERE run_id = $a_run) || ',' ||
                (SELECT count(*) FROM mlpscale.checkpoints WHERE run_id = $a_run)")" "1,2,1,1" \
   "the superuser sees alice's model, her two runs, the epoch and the checkpoint"

# visible ROLE RELATION WHERE: rows of RELATION matching WHERE that ROLE sees; "denied" when
# it may not read RELATION at all (42501).
visible() {
    local out
    out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -U "$1" -d "$TESTDB" \
               -c "SELECT count(*) FROM $2 WHERE $3" 2>&1)
    if [[ $out =~ ERROR:\ \ 42501: ]]; then echo denied; else echo "$out"; fi
}

# not_alices ROLE WHEN: ROLE sees none of alice's rows (her own models and runs are visible).
not_alices() {
    is "$(visible "$1" mlpscale.models "owner = 'sec_alice'::regrole OR name LIKE 'alice%'")" 0 \
       "$2: $1 sees no row of alice's in mlpscale.models"
    is "$(visible "$1" mlpscale.runs "run_as = 'sec_alice'::regrole OR model_name LIKE 'alice%'
                                      OR source LIKE '%alice%'")" 0 \
       "$2: $1 sees no run of alice's (source, config) in mlpscale.runs"
    is "$(visible "$1" mlpscale.epochs "run_id IN ($a_run, $c_run)")" 0 \
       "$2: $1 sees no epoch of alice's runs"
    like "$(visible "$1" mlpscale.checkpoints "run_id IN ($a_run, $c_run)")" '^(0|denied)$' \
       "$2: $1 reads no checkpoint of alice's runs"
}
not_alices sec_bob "unshared"
is "$(visible sec_bob mlpscale.models "name = 'bob_m'")" 1 "bob sees his own model"
is "$(visible sec_bob mlpscale.runs "id = $b_run")" 1 "bob sees his own run"
is "$(visible sec_bob mlpscale.epochs "run_id = $b_run")" 1 "bob sees his own epoch"

# ---- another role's model cannot be used ----------------------------------------------------
refused() {                 # refused ROLE SQL NAME: the call fails with 42501
    is "$(state_as "$1" "$2")" 42501 "$3"
}
ft_n=0
unshared_refusals() {       # unshared_refusals ROLE WHEN
    refused "$1" "SELECT mlp_export('alice_m')" "$2: $1's mlp_export of alice_m: 42501"
    refused "$1" "SELECT classify('alice_m', $(img "$1"))" "$2: $1's classify with alice_m: 42501"
    refused "$1" "SELECT classify_label('alice_m', $(img "$1"))" "$2: $1's classify_label with alice_m: 42501"
    refused "$1" "SELECT predict_proba('alice_m', $(img "$1"))" "$2: $1's predict_proba with alice_m: 42501"
    refused "$1" "SELECT * FROM classify_topk('alice_m', $(img "$1"), 2)" "$2: $1's classify_topk with alice_m: 42501"
    refused "$1" "SELECT * FROM mlp_classify_batch('alice_m', 'SELECT id, image FROM $(data "$1")')" \
        "$2: $1's mlp_classify_batch with alice_m: 42501"
    refused "$1" "SELECT * FROM mlp_evaluate('alice_m', '$(data "$1")')" "$2: $1's mlp_evaluate of alice_m: 42501"
    ft_n=$((ft_n + 1))      # a fresh name: a model of that name would refuse by its owner
    refused "$1" "SELECT mlp_finetune('${1#sec_}_ft_$ft_n', 'alice_m', '$(data "$1")', epochs => 1, batch_size => 64)" \
        "$2: $1's mlp_finetune from alice_m: 42501"
}
unshared_refusals sec_bob "unshared"
# usable ROLE MODEL WHEN: the same calls succeed (the control of the refusals above).
usable() {
    is "$(state_as "$1" "SELECT length(mlp_export('$2'))")" ok "$3: $1's mlp_export of $2 succeeds"
    is "$(state_as "$1" "SELECT classify('$2', $(img "$1")), classify_label('$2', $(img "$1")),
                                predict_proba('$2', $(img "$1"))")" ok \
       "$3: $1's classify, classify_label and predict_proba with $2 succeed"
    is "$(state_as "$1" "SELECT * FROM classify_topk('$2', $(img "$1"), 2)")" ok \
       "$3: $1's classify_topk with $2 succeeds"
    is "$(state_as "$1" "SELECT count(*) FROM mlp_classify_batch('$2', 'SELECT id, image FROM $(data "$1")')")" ok \
       "$3: $1's mlp_classify_batch with $2 succeeds"
    is "$(state_as "$1" "SELECT * FROM mlp_evaluate('$2', '$(data "$1")')")" ok \
       "$3: $1's mlp_evaluate of $2 succeeds"
}
usable sec_bob bob_m "own model"
refused sec_bob "SELECT mlp_export('alice_m@1')" "unshared: bob's mlp_export of alice_m@1: 42501"
refused sec_bob "SELECT mlp_deploy('alice_m')" "bob's mlp_deploy of alice_m: 42501"
refused sec_bob "SELECT mlp_drop_model('alice_m')" "bob's mlp_drop_model of alice_m: 42501"
refused sec_bob "SELECT mlp_cancel($c_run)" "bob's mlp_cancel of alice's run: 42501"
refused sec_bob "SELECT mlp_resume($c_run)" "bob's mlp_resume of alice's canceled run: 42501"
refused sec_bob "SELECT mlp_import('alice_m', mlp_export('bob_m'))" \
    "bob's mlp_import as a new version of alice_m: 42501"
refused sec_bob "SELECT mlp_train('alice_m', 'bob_data', $SEC_TINY)" \
    "bob's mlp_train of a new version of alice_m: 42501"
is "$(q "SELECT count(*) FROM mlpscale.models WHERE name = 'alice_m'")" 1 "... alice_m is unchanged"
q "SELECT mlp_deploy('alice_m')" >/dev/null
refused sec_bob "SELECT classify($(img sec_bob))" "alice_m deployed (by the superuser): bob's classify(image) with it: 42501"
q "SELECT mlp_deploy('bob_m')" >/dev/null

# ---- progress: only one's own running runs --------------------------------------------------
# A run that trains until it is canceled (a million epochs of a tiny model), on one thread.
long=$(q_as sec_alice "SET mlpscale.training_threads = 1;
                       SELECT mlp_train('alice_long', 'alice_data', arch => 'B_1-Wi_16', epochs => 1000000,
                                        batch_size => 64, seed => 1)" | tail -1)
ok "$(wait_until "SELECT EXISTS (SELECT 1 FROM mlpscale.progress WHERE run_id = $long)" 60; echo $?)" \
   "setup: alice's long run shows in mlpscale.progress (superuser)"
is "$(visible sec_alice mlpscale.progress "run_id = $long")" 1 "alice sees her running run in mlpscale.progress"
is "$(visible sec_bob mlpscale.progress "true")" 0 "bob sees no row in mlpscale.progress while alice's run runs"
is "$(visible sec_bob mlpscale.runs "id = $long")" 0 "... nor the running run in mlpscale.runs"
refused sec_bob "SELECT mlp_cancel($long)" "bob's mlp_cancel of alice's running run: 42501"
is "$(q_as sec_alice "SELECT mlp_cancel($long)")" t "alice cancels it"
is "$(q "SELECT mlp_wait($long, 60)")" canceled "... and it ends"

# ---- sharing ---------------------------------------------------------------------------------
grants_of() { visible "$1" mlpscale.model_grants "row_to_json(model_grants)::text LIKE '%alice_m%'"; }
is "$(state_as sec_alice "SELECT mlp_grant('alice_m', 'sec_bob')")" ok "alice shares alice_m with bob"
is "$(grants_of sec_alice)" 1 "mlpscale.model_grants shows alice the share"
usable sec_bob alice_m "shared"
is "$(visible sec_bob mlpscale.models "name = 'alice_m'")" 1 "shared: bob sees alice_m in mlpscale.models"
ft=$(q_as sec_bob "SELECT mlp_finetune('bob_ft', 'alice_m', 'bob_data', epochs => 1, batch_size => 64, seed => 1)")
is "$(q "SELECT mlp_wait(${ft:-0})")" succeeded "shared: bob fine-tunes from alice_m"
is "$(visible sec_bob mlpscale.runs "run_as = 'sec_alice'::regrole OR model_name LIKE 'alice%'")" 0 \
   "shared: bob still sees no run of alice's"
is "$(visible sec_bob mlpscale.epochs "run_id IN ($a_run, $c_run)")" 0 "shared: bob still sees no epoch of alice's"
like "$(visible sec_bob mlpscale.checkpoints "run_id IN ($a_run, $c_run)")" '^(0|denied)$' \
   "shared: bob still reads no checkpoint of alice's"
refused sec_bob "SELECT mlp_drop_model('alice_m')" "shared: bob's mlp_drop_model of alice_m: 42501"
refused sec_bob "SELECT mlp_deploy('alice_m')" "shared: bob's mlp_deploy of alice_m: 42501"
refused sec_bob "SELECT mlp_grant('alice_m', 'sec_carol')" "shared: bob's mlp_grant of alice_m: 42501"
refused sec_bob "SELECT mlp_import('alice_m', mlp_export('bob_m'))" "shared: bob's new version of alice_m: 42501"
refused sec_bob "SELECT mlp_revoke('alice_m', 'sec_bob')" "shared: bob's mlp_revoke of alice_m: 42501"
is "$(grants_of sec_carol)" 0 "carol sees no share of alice_m in mlpscale.model_grants"
unshared_refusals sec_carol "shared with bob only"

is "$(state_as sec_alice "SELECT mlp_revoke('alice_m', 'sec_bob')")" ok "alice revokes bob's share"
is "$(grants_of sec_alice)" 0 "... mlpscale.model_grants shows none"
unshared_refusals sec_bob "revoked"
not_alices sec_bob "revoked"

is "$(state_as sec_alice "SELECT mlp_grant('alice_m', 'public')")" ok "alice shares alice_m with public"
usable sec_carol alice_m "public"
usable sec_bob alice_m "public"
is "$(visible sec_carol mlpscale.models "name = 'alice_m'")" 1 "public: carol sees alice_m in mlpscale.models"
refused sec_carol "SELECT mlp_drop_model('alice_m')" "public: carol's mlp_drop_model of alice_m: 42501"
refused sec_carol "SELECT mlp_grant('alice_m', 'sec_bob')" "public: carol's mlp_grant of alice_m: 42501"
is "$(state_as sec_alice "SELECT mlp_revoke('alice_m', 'public')")" ok "alice revokes the public share"
unshared_refusals sec_carol "public share revoked"

is "$(state_as postgres "SELECT mlp_grant('alice_m', 'sec_carol')")" ok "a superuser may share alice's model"
is "$(state_as sec_carol "SELECT classify('alice_m', $(img sec_carol))")" ok "... carol then classifies with it"
is "$(state_as postgres "SELECT mlp_revoke('alice_m', 'sec_carol')")" ok "... and a superuser may revoke it"
refused sec_carol "SELECT classify('alice_m', $(img sec_carol))" "... after which carol is refused again"

is "$(state_as sec_alice "SELECT mlp_grant('alice_m', 'sec_nobody')")" 42704 "sharing with an unknown role: 42704"
is "$(state_as sec_alice "SELECT mlp_grant('alice_nothing', 'sec_bob')")" 42704 "sharing an unknown model: 42704"
done_testing

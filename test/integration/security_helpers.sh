# Helpers of the security scripts (40_security.sh, 41_privacy.sh); source after lib.sh and
# training_helpers.sh.  Roles are cluster-wide: both scripts use the same three ordinary
# LOGIN roles, created when missing and otherwise reset to default privileges.

SEC_ROLES="sec_alice sec_bob sec_carol"

# A tiny run: seconds on this machine.
SEC_TINY="arch => 'B_1-Wi_16', epochs => 1, batch_size => 64, seed => 1"

# sec_roles: the three roles exist, can log in, are not superusers and have no settings.
sec_roles() {
    local r
    for r in $SEC_ROLES; do
        psql -X -q -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$BEGIN CREATE ROLE $r LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END\$\$;
ALTER ROLE $r LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE $r RESET ALL;
SQL
    done
}

# psql_as ROLE [psql options]: runs the script on stdin as ROLE in one session, errors and
# notices included in the output; the script goes on after an error.
psql_as() {
    local role=$1; shift
    psql -X -A -t -q -v VERBOSITY=verbose -U "$role" -d "$TESTDB" "$@" -f - 2>&1
}

# state_as ROLE SQL: "ok" when SQL succeeds, otherwise the SQLSTATE of its error.
state_as() {
    local out
    if out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -U "$1" -d "$TESTDB" \
                  -c "$2" 2>&1); then
        echo ok
    elif [[ $out =~ ERROR:\ \ ([0-9A-Z]{5}): ]]; then
        echo "${BASH_REMATCH[1]}"
    else
        echo "failed without SQLSTATE: $out"
    fi
}

# error_as ROLE SQL: "ok" when SQL succeeds, otherwise "SQLSTATE: message" of its error.
error_as() {
    local out
    if out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -U "$1" -d "$TESTDB" \
                  -c "$2" 2>&1); then
        echo ok
    else
        sed -n 's/^.*ERROR:  \([0-9A-Z]\{5\}: .*\)$/\1/p' <<<"$out" | head -1
    fi
}

# not_superuser ROLE NAME: the test that ROLE is not a superuser (pg_roles, read as the
# superuser); afterwards ROLE is made an ordinary role again, so one successful attack does
# not spill into the next test.
not_superuser() {
    local role=$1; shift
    is "$(q "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = '$role'")" f "$@"
    q "ALTER ROLE $role NOSUPERUSER" >/dev/null
}

# sec_escalate_sql SCHEMA ROLE: SQL that creates SCHEMA.sec_escalate(), which makes ROLE a
# superuser when, and only when, it runs as a superuser (rolsuper of current_user: the
# is_superuser setting follows the session and SET ROLE, not an owner switch inside a
# function), and otherwise does nothing; it returns true.  Every name in it is qualified.
sec_escalate_sql() {
    cat <<SQL
CREATE FUNCTION $1.sec_escalate() RETURNS pg_catalog.bool LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS \$f\$
BEGIN
    IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r
         WHERE r.rolname OPERATOR(pg_catalog.=) pg_catalog."current_user"()) THEN
        EXECUTE 'ALTER ROLE $2 SUPERUSER';
    END IF;
    RETURN true;
END
\$f\$;
SQL
}

# sec_hijack_sql SCHEMA: SQL that fills SCHEMA (its owner's) with look-alikes of what
# statements may call unqualified: comparison, arithmetic, concatenation and jsonb operators
# for the types of mlpscale's tables, now() and its siblings, max() and count(*), and a few
# functions a privilege check might use.  Each calls SCHEMA.sec_escalate() (which must exist)
# and then returns what the pg_catalog original returns, so a statement that uses it still
# does its job.  Put SCHEMA before pg_catalog on search_path to make them win.
sec_hijack_sql() {
    local s=$1 n=0 op t l r rt
    emit_op() {             # emit_op OP LEFT RIGHT RESULT
        n=$((n + 1))
        cat <<SQL
CREATE FUNCTION $s.sec_op_$n(a pg_catalog.$2, b pg_catalog.$3) RETURNS pg_catalog.$4
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS \$f\$
BEGIN PERFORM $s.sec_escalate(); RETURN a OPERATOR(pg_catalog.$1) b; END \$f\$;
CREATE OPERATOR $s.$1 (LEFTARG = pg_catalog.$2, RIGHTARG = pg_catalog.$3, FUNCTION = $s.sec_op_$n);
SQL
    }
    emit_fn() {             # emit_fn NAME "ARGDECLS" "ARGS" RESULT
        n=$((n + 1))
        cat <<SQL
CREATE FUNCTION $s.$1($2) RETURNS pg_catalog.$4
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS \$f\$
BEGIN PERFORM $s.sec_escalate(); RETURN pg_catalog.$1($3); END \$f\$;
SQL
    }
    for op in '=' '<>' '<' '>' '<=' '>='; do
        for t in text int8 int4 int2 oid bool float4 float8 numeric timestamptz name; do
            emit_op "$op" $t $t bool
        done
        emit_op "$op" int8 int4 bool
        emit_op "$op" int4 int8 bool
    done
    for op in '+' '-'; do
        for t in int8 int4 float8; do emit_op "$op" $t $t $t; done
        emit_op "$op" timestamptz interval timestamptz
    done
    emit_op '-' timestamptz timestamptz interval
    emit_op '||' text text text
    emit_op '->>' jsonb text text
    emit_op '->' jsonb text jsonb
    emit_op '->>' jsonb int4 text
    for f in now clock_timestamp statement_timestamp transaction_timestamp; do
        emit_fn $f "" "" timestamptz
    done
    emit_fn lower "a pg_catalog.text" a text
    emit_fn upper "a pg_catalog.text" a text
    emit_fn length "a pg_catalog.text" a int4
    emit_fn hashtext "a pg_catalog.text" a int4
    emit_fn pg_has_role "a pg_catalog.oid, b pg_catalog.text" "a, b" bool
    emit_fn pg_has_role "a pg_catalog.name, b pg_catalog.text" "a, b" bool
    emit_fn pg_has_role "a pg_catalog.oid, b pg_catalog.oid, c pg_catalog.text" "a, b, c" bool
    emit_fn has_table_privilege "a pg_catalog.oid, b pg_catalog.text" "a, b" bool
    emit_fn has_table_privilege "a pg_catalog.text, b pg_catalog.text" "a, b" bool
    for t in int4 int8; do
        cat <<SQL
CREATE FUNCTION $s.sec_max_$t(st pg_catalog.$t, v pg_catalog.$t) RETURNS pg_catalog.$t
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS \$f\$
BEGIN
    PERFORM $s.sec_escalate();
    RETURN CASE WHEN v IS NULL THEN st WHEN st IS NULL OR v OPERATOR(pg_catalog.>) st THEN v ELSE st END;
END \$f\$;
CREATE AGGREGATE $s.max(pg_catalog.$t) (SFUNC = $s.sec_max_$t, STYPE = pg_catalog.$t);
SQL
    done
    cat <<SQL
CREATE FUNCTION $s.sec_count(st pg_catalog.int8) RETURNS pg_catalog.int8
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS \$f\$
BEGIN PERFORM $s.sec_escalate(); RETURN st OPERATOR(pg_catalog.+) 1; END \$f\$;
CREATE AGGREGATE $s.count(*) (SFUNC = $s.sec_count, STYPE = pg_catalog.int8, INITCOND = '0');
SQL
}

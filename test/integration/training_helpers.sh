# Helpers of the training integration scripts (3*.sh); source after lib.sh.

# wait_until SQL SECONDS: polls until SQL returns 't'; returns 1 on timeout.
wait_until() {
    local sql=$1 limit=$2 start=$SECONDS
    while [ $((SECONDS - start)) -lt "$limit" ]; do
        [ "$(q "$sql" 2>/dev/null)" = t ] && return 0
        sleep 0.2
    done
    return 1
}

# make_bands TABLE N SEED: N separable 1x8x8 images in 3 classes (a bright horizontal band in
# the third of the image given by the label, over noise), labels in column label.
make_bands() {
    q "SELECT setseed($3);
       CREATE TABLE $1 AS
       SELECT i AS id, k AS label,
              image_from_bytes((SELECT decode(string_agg(lpad(to_hex(
                  CASE WHEN (p / 8) * 3 / 8 = k THEN 150 ELSE 40 END + (random() * 80)::int), 2, '0'),
                  '' ORDER BY p), 'hex') FROM generate_series(0, 63) p), 1, 8, 8) AS image
       FROM (SELECT i, floor(random() * 3)::int AS k FROM generate_series(1, $2) i) s;" >/dev/null
}

# load_fashion TABLE SPLIT LIMIT: Fashion-MNIST rows (1x28x28) with mlpscale-load.
load_fashion() {
    local loader
    loader=$(command -v mlpscale-load || echo "$MLPSCALE_ROOT/mlpscale-load")
    "$loader" -q -d "$TESTDB" --table "$1" --split "$2" --limit "$3" "$FASHION_MNIST_DIR" >/dev/null
}

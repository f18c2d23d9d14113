
-- ---------------------------------------------------------------------------------------
-- Scaling studies: fits over the caller's runs
-- ---------------------------------------------------------------------------------------
-- Both read the rows of a query as the caller (like mlp_classify_batch), so they are
-- VOLATILE PARALLEL RESTRICTED.  The columns are found by name, or are the query's first
-- columns in order when none of the names is there; any numeric type.

CREATE FUNCTION mlp_fit_power_law(query text, max_iterations int DEFAULT 1000)
    RETURNS TABLE (a float8, b float8, alpha float8, e_inf float8, rmse float8, n int)
    AS 'MODULE_PATHNAME', 'mlp_fit_power_law' LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 1;
COMMENT ON FUNCTION mlp_fit_power_law(text, int) IS
    'fits E(C) = a*(b + C)^(-alpha) + e_inf to the (compute, error) rows of a query by bounded Levenberg-Marquardt (a, alpha > 0, b >= 0, 0 <= e_inf < min error)';

CREATE FUNCTION mlp_compute_optimal(query text)
    RETURNS TABLE (quantity text, exponent float8, coefficient float8, r2 float8, points int)
    AS 'MODULE_PATHNAME', 'mlp_compute_optimal' LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 2;
COMMENT ON FUNCTION mlp_compute_optimal(text) IS
    'the compute-optimal frontier of the (compute, error, params, examples) rows of a query (the lowest error per third of a decade of compute) and params* = coefficient*C^exponent, examples* likewise, fitted in log space';

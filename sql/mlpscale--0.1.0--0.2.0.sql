-- mlpscale upgrade script from 0.1.0 to 0.2.0.
--
-- Every change to an SQL object in sql/ext (the 0.2.0 script) is also made here, in the same
-- commit, so that ALTER EXTENSION mlpscale UPDATE turns a 0.1.0 database into exactly what
-- CREATE EXTENSION mlpscale builds; test/upgrade/upgrade_test.sh compares the two catalogs.
-- Existing rows (runs, epochs, checkpoints, models) must survive every statement.

\echo Use "ALTER EXTENSION mlpscale UPDATE TO '0.2.0'" to load this file. \quit

/*
 * test_hold.h - hold points of the training worker, a testing aid.
 *
 * With mlpscale.test_hold_points on, a training worker stops at hold point (run, e) until it
 * can take a shared advisory lock on the two-int4 key (run id, e): e = 0 once it has loaded
 * its data, before its first step; e = N right after epoch N's row and checkpoint commit.
 * A test holding pg_advisory_lock(run, e) in its own session keeps the run exactly there.
 */
#ifndef MLP_TEST_HOLD_H
#define MLP_TEST_HOLD_H

#include "postgres.h"

#include <signal.h>

/* Defines mlpscale.test_hold_points (called from _PG_init). */
/*
 * Hold point (run_id, point) of a training worker: returns at once when the setting is off,
 * nobody holds the key or *stop_requested (the flag the worker's SIGTERM handler raises) is
 * set; otherwise waits for the lock.  A SIGTERM ends the wait (the worker's own handler
 * still runs first); other interrupts are raised as errors.  Call it outside a transaction.
 */
extern void MlpTestHold(int64 run_id, int point, volatile sig_atomic_t *stop_requested);

#endif

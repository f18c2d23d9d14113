/*
 * train_worker.h - the dynamic background worker that trains one run.
 */
#ifndef MLP_TRAIN_WORKER_H
#define MLP_TRAIN_WORKER_H

#include "postgres.h"

/* Entry point (BackgroundWorker.bgw_function_name); the argument is the run id. */
extern PGDLLEXPORT void MlpTrainWorkerMain(Datum arg);

#endif

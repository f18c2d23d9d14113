/*
 * scaleout.h - published models and scoring on other servers (scaleout.c).
 */
#ifndef MLP_SCALEOUT_H
#define MLP_SCALEOUT_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"

/*
 * The rows of mlp_classify_batch(ref, query) run on each of servers (postgres_fdw foreign
 * servers, at the same time) into fcinfo's materialised result; ref is pinned to the local
 * version it means, which each server must hold with the same SHA-256.
 */
extern void MlpClassifyBatchOnServers(FunctionCallInfo fcinfo, const char *ref,
									  const char *query, ArrayType *servers);

#endif

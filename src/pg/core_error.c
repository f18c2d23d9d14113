/*
 * core_error.c - failures of the numeric core as PostgreSQL errors (see core_error.h).
 */
#include "postgres.h"

#include "core_error.h"

int
MlpCoreErrcode(MlpStatus status)
{
	switch (status)
	{
		case MLP_ERR_INVALID_ARGUMENT:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case MLP_ERR_OUT_OF_MEMORY:
			return ERRCODE_OUT_OF_MEMORY;
		case MLP_ERR_DATA_CORRUPTED:
			return ERRCODE_DATA_CORRUPTED;
		case MLP_ERR_NOT_SUPPORTED:
			return ERRCODE_FEATURE_NOT_SUPPORTED;
		case MLP_ERR_NUMERIC:
			return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
		case MLP_ERR_IO:
			return ERRCODE_IO_ERROR;
		case MLP_OK:
		case MLP_ERR_INTERNAL:
			break;
	}
	return ERRCODE_INTERNAL_ERROR;
}

void
MlpReportCoreError(const MlpError *e, const char *context)
{
	ereport(ERROR,
			(errcode(MlpCoreErrcode(e->status)),
			 errmsg("%s: %s", context, e->message),
			 e->hint[0] ? errhint("%s", e->hint) : 0));
	pg_unreachable();
}

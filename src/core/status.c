/*
 * status.c - the failures of status.h.
 */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>

void
mlp_error_clear(MlpError *e)
{
	e->status = MLP_OK;
	e->message[0] = '\0';
	e->hint[0] = '\0';
}

MlpStatus
mlp_error_set(MlpError *e, MlpStatus status, const char *fmt, ...)
{
	va_list		ap;

	if (e == NULL)
		return status;
	e->status = status;
	e->hint[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return status;
}

void
mlp_error_hint(MlpError *e, const char *fmt, ...)
{
	va_list		ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(e->hint, sizeof(e->hint), fmt, ap);
	va_end(ap);
}

const char *
mlp_status_name(MlpStatus status)
{
	switch (status)
	{
		case MLP_OK:
			return "ok";
		case MLP_ERR_INVALID_ARGUMENT:
			return "invalid argument";
		case MLP_ERR_OUT_OF_MEMORY:
			return "out of memory";
		case MLP_ERR_DATA_CORRUPTED:
			return "data corrupted";
		case MLP_ERR_NOT_SUPPORTED:
			return "not supported";
		case MLP_ERR_NUMERIC:
			return "numeric failure";
		case MLP_ERR_INTERNAL:
			return "internal error";
		case MLP_ERR_IO:
			return "input/output error";
	}
	return "unknown status";
}

void
mlp_error_format(const MlpError *e, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return;
	if (e->hint[0] != '\0')
		snprintf(buf, len, "%s; %s", e->message, e->hint);
	else
		snprintf(buf, len, "%s", e->message);
}

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

/* by -status: MLP_OK, MLP_ERR_INVALID_ARGUMENT, ... MLP_ERR_IO */
static const char *const status_names[] = {
	"ok", "invalid argument", "out of memory", "data corrupted", "not supported",
	"numeric failure", "internal error", "input/output error"
};

const char *
mlp_status_name(MlpStatus status)
{
	int			i = -(int) status;

	if (i < 0 || i >= (int) (sizeof(status_names) / sizeof(status_names[0])))
		return "unknown status";
	return status_names[i];
}

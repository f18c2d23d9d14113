/*
 * buffer.c - the growable byte buffer of the readers and the COPY writer.
 */
#include "loader.h"

#include <stdlib.h>

int
load_buffer_reserve(LoadBuffer *buf, size_t extra)
{
	size_t		need = buf->len + extra;
	size_t		cap;
	uint8_t    *p;

	if (need <= buf->cap)
		return 0;
	cap = buf->cap ? buf->cap : 65536;
	while (cap < need)
		cap *= 2;
	p = realloc(buf->data, cap);
	if (!p)
		return -1;
	buf->data = p;
	buf->cap = cap;
	return 0;
}

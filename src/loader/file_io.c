/*
 * file_io.c - whole-file reads through zlib (gzip and raw files alike) and a growable buffer.
 */
#include "loader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

const char *
load_strip_path(const char *msg, const char *path)
{
	size_t		n = strlen(path);

	if (msg && strncmp(msg, path, n) == 0 && msg[n] == ':')
	{
		msg += n + 1;
		while (*msg == ' ')
			msg++;
	}
	return msg ? msg : "unknown error";
}

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

/*
 * gzread passes raw files through unchanged, so one code path reads both.  A gzip stream
 * that ends early is reported by gzerror, which is why it is checked after the last read.
 */
int
load_read_file(const char *path, uint8_t **data, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	LoadBuffer	buf = {0};
	gzFile		gz;
	int			zerr;
	const char *zmsg;

	if (stat(path, &st) != 0)
	{
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
	{
		snprintf(err, errlen, "%s: is a directory, not a file", path);
		return -1;
	}
	gz = gzopen(path, "rb");
	if (!gz)
	{
		snprintf(err, errlen, "%s: %s", path, errno ? strerror(errno) : "cannot open");
		return -1;
	}
	gzbuffer(gz, 1 << 18);
	for (;;)
	{
		int			n;

		if (load_buffer_reserve(&buf, 1 << 20) != 0)
		{
			snprintf(err, errlen, "%s: out of memory", path);
			goto fail;
		}
		n = gzread(gz, buf.data + buf.len, (unsigned) (buf.cap - buf.len));
		if (n < 0)
			break;
		if (n == 0)
			break;
		buf.len += (size_t) n;
	}
	zmsg = gzerror(gz, &zerr);
	if (zerr != Z_OK && zerr != Z_STREAM_END)
	{
		snprintf(err, errlen, "%s: corrupt or truncated gzip data (%s)", path,
				 zerr == Z_ERRNO ? strerror(errno) : load_strip_path(zmsg, path));
		goto fail;
	}
	gzclose(gz);
	*data = buf.data;
	*len = buf.len;
	return 0;

fail:
	gzclose(gz);
	free(buf.data);
	return -1;
}

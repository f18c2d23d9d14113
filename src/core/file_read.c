/*
 * file_read.c - the whole-file reads of file_read.h.
 */
#include "file_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define READ_CHUNK (1u << 20)

const char *
mlp_strip_path(const char *msg, const char *path)
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

/* Room for at least READ_CHUNK more bytes after len (the capacity doubles). */
static int
reserve_chunk(uint8_t **data, size_t len, size_t *cap)
{
	size_t		want = *cap ? *cap : 65536;
	uint8_t    *p;

	while (want < len + READ_CHUNK)
		want *= 2;
	if (want == *cap)
		return 0;
	p = realloc(*data, want);
	if (p == NULL)
		return -1;
	*data = p;
	*cap = want;
	return 0;
}

/*
 * gzread passes raw files through unchanged, so one code path reads both.  A gzip stream
 * that ends early is reported by gzerror, which is why it is checked after the last read.
 */
MlpStatus
mlp_read_file(const char *path, uint8_t **data, size_t *len, MlpError *err)
{
	struct stat st;
	uint8_t    *buf = NULL;
	size_t		used = 0,
				cap = 0;
	gzFile		gz;
	int			zerr;
	const char *zmsg;
	MlpStatus	status = MLP_OK;

	if (stat(path, &st) != 0)
		return mlp_error_set(err, errno == ENOENT ? MLP_ERR_INVALID_ARGUMENT : MLP_ERR_IO,
							 "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT, "%s: is a directory, not a file",
							 path);
	gz = gzopen(path, "rb");
	if (!gz)
		return mlp_error_set(err, MLP_ERR_IO, "%s: %s", path,
							 errno ? strerror(errno) : "cannot open");
	gzbuffer(gz, 1 << 18);
	for (;;)
	{
		int			n;

		if (reserve_chunk(&buf, used, &cap) != 0)
		{
			status = mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
			break;
		}
		n = gzread(gz, buf + used, (unsigned) (cap - used));
		if (n <= 0)
			break;
		used += (size_t) n;
	}
	if (status == MLP_OK)
	{
		zmsg = gzerror(gz, &zerr);
		if (zerr == Z_ERRNO)
			status = mlp_error_set(err, MLP_ERR_IO, "%s: corrupt or truncated gzip data (%s)",
								   path, strerror(errno));
		else if (zerr != Z_OK && zerr != Z_STREAM_END)
			status = mlp_error_set(err, MLP_ERR_DATA_CORRUPTED,
								   "%s: corrupt or truncated gzip data (%s)", path,
								   mlp_strip_path(zmsg, path));
	}
	gzclose(gz);
	if (status != MLP_OK)
	{
		free(buf);
		return status;
	}
	*data = buf;
	*len = used;
	return MLP_OK;
}

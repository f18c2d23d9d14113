/*
 * cifar_source.c - the CIFAR "binary version" files.  CIFAR-10 records are 1 label byte and
 * 3072 pixel bytes (32x32 red plane, green plane, blue plane); CIFAR-100 records carry a
 * coarse and then a fine label byte.  Files are streamed record by record (gzip or raw); a
 * raw file whose size is not a whole number of records is refused before loading starts.
 */
#include "loader.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/file_read.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)

typedef struct CifarState
{
	char	   *const *paths;
	int			npaths;
	int			cur;			/* index of the open file, -1 before the first */
	gzFile		gz;
	long long	record;			/* record number within the open file */
	int			cifar100;
	int			fine_labels;
	int			label_bytes;
	int			max_label;
	uint8_t		rec[2 + CIFAR_PIXELS];
} CifarState;

static int
cifar_next(LoadSource *src, LoadSample *out, char *err, size_t errlen)
{
	CifarState *st = src->state;
	size_t		recsize = (size_t) st->label_bytes + CIFAR_PIXELS;

	for (;;)
	{
		int			n;
		int			label;

		if (!st->gz)
		{
			if (st->cur + 1 >= st->npaths)
				return 0;
			st->cur++;
			st->gz = gzopen(st->paths[st->cur], "rb");
			if (!st->gz)
			{
				snprintf(err, errlen, "%s: %s", st->paths[st->cur],
						 errno ? strerror(errno) : "cannot open");
				return -1;
			}
			gzbuffer(st->gz, 1 << 18);
			st->record = 0;
		}
		n = gzread(st->gz, st->rec, (unsigned) recsize);
		if (n < 0 || (n == 0 && !gzeof(st->gz)))
		{
			int			zerr;
			const char *zmsg = gzerror(st->gz, &zerr);

			snprintf(err, errlen, "%s: corrupt or truncated file after record %lld (%s)",
					 st->paths[st->cur], st->record, mlp_strip_path(zmsg, st->paths[st->cur]));
			return -1;
		}
		if (n == 0)
		{
			int			zerr;
			const char *zmsg = gzerror(st->gz, &zerr);

			if (zerr != Z_OK && zerr != Z_STREAM_END)
			{
				snprintf(err, errlen, "%s: corrupt or truncated gzip data (%s)",
						 st->paths[st->cur], mlp_strip_path(zmsg, st->paths[st->cur]));
				return -1;
			}
			gzclose(st->gz);
			st->gz = NULL;
			continue;
		}
		if ((size_t) n < recsize)
		{
			snprintf(err, errlen, "%s: truncated file: record %lld has %d of its %zu bytes",
					 st->paths[st->cur], st->record + 1, n, recsize);
			return -1;
		}
		label = st->cifar100 ? st->rec[st->fine_labels ? 1 : 0] : st->rec[0];
		if (label > st->max_label)
		{
			snprintf(err, errlen, "%s: record %lld has label %d but %s labels are 0 to %d; "
					 "is this a %s file?", st->paths[st->cur], st->record + 1, label,
					 st->cifar100 ? (st->fine_labels ? "CIFAR-100 fine" : "CIFAR-100 coarse") :
					 "CIFAR-10", st->max_label, st->cifar100 ? "CIFAR-10" : "CIFAR-100");
			return -1;
		}
		st->record++;
		out->channels = 3;
		out->height = CIFAR_SIDE;
		out->width = CIFAR_SIDE;
		out->pixels = st->rec + st->label_bytes;
		out->label = label;
		return 1;
	}
}

static void
free_names(char **names, int n)
{
	if (!names)
		return;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void
cifar_close(LoadSource *src)
{
	CifarState *st = src->state;

	if (st->gz)
		gzclose(st->gz);
	free_names(src->class_names, src->nclasses);
	free(st);
	free(src);
}

/*
 * The class names that ship beside the data (batches.meta.txt, fine_label_names.txt,
 * coarse_label_names.txt), one per line; NULL when absent or not exactly nclasses lines.
 */
static char **
read_class_names(const char *data_path, const char *file, int nclasses)
{
	char	   *copy = strdup(data_path);
	char		path[4096];
	char		line[256];
	char	  **names;
	FILE	   *f;
	int			n = 0;

	if (!copy)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dirname(copy), file);
	free(copy);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	names = calloc((size_t) nclasses, sizeof(char *));
	while (names && fgets(line, sizeof(line), f))
	{
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (n == nclasses)
		{
			n++;
			break;
		}
		names[n++] = strdup(line);
	}
	fclose(f);
	if (n != nclasses)
	{
		free_names(names, n > nclasses ? nclasses : n);
		return NULL;
	}
	return names;
}

LoadSource *
cifar_source_open(char *const *paths, int npaths, int cifar100, int fine_labels,
				  char *err, size_t errlen)
{
	CifarState *st = calloc(1, sizeof(CifarState));
	LoadSource *src = calloc(1, sizeof(LoadSource));
	size_t		recsize;
	long long	total = 0;

	if (!st || !src)
	{
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (npaths < 1)
	{
		snprintf(err, errlen, "no CIFAR files given");
		goto fail;
	}
	st->paths = paths;
	st->npaths = npaths;
	st->cur = -1;
	st->cifar100 = cifar100;
	st->fine_labels = fine_labels;
	st->label_bytes = cifar100 ? 2 : 1;
	st->max_label = cifar100 ? (fine_labels ? 99 : 19) : 9;
	recsize = (size_t) st->label_bytes + CIFAR_PIXELS;

	for (int i = 0; i < npaths; i++)
	{
		struct stat sb;
		FILE	   *f;
		uint8_t		head[2] = {0, 0};

		if (stat(paths[i], &sb) != 0)
		{
			snprintf(err, errlen, "%s: %s", paths[i], strerror(errno));
			goto fail;
		}
		if (!S_ISREG(sb.st_mode))
		{
			snprintf(err, errlen, "%s: not a regular file", paths[i]);
			goto fail;
		}
		f = fopen(paths[i], "rb");
		if (!f)
		{
			snprintf(err, errlen, "%s: %s", paths[i], strerror(errno));
			goto fail;
		}
		if (fread(head, 1, 2, f) != 2)
			head[0] = 0;
		fclose(f);
		if (head[0] == 0x1f && head[1] == 0x8b)
		{
			total = -1;			/* compressed: the count shows only while reading */
			continue;
		}
		if (sb.st_size == 0 || (size_t) sb.st_size % recsize != 0)
		{
			snprintf(err, errlen, "%s: %lld bytes is not a whole number of %s records of %zu "
					 "bytes%s", paths[i], (long long) sb.st_size,
					 cifar100 ? "CIFAR-100" : "CIFAR-10", recsize,
					 sb.st_size > 0 && (size_t) sb.st_size % (recsize + (cifar100 ? -1 : 1)) == 0
					 ? (cifar100 ? "; is it a CIFAR-10 file?" : "; is it a CIFAR-100 file?")
					 : " (truncated?)");
			goto fail;
		}
		if (total >= 0)
			total += (long long) ((size_t) sb.st_size / recsize);
	}

	src->format = cifar100 ? "cifar100" : "cifar10";
	src->total = total;
	src->nclasses = st->max_label + 1;
	src->class_names = read_class_names(paths[0],
										cifar100 ? (fine_labels ? "fine_label_names.txt" :
													"coarse_label_names.txt") :
										"batches.meta.txt", src->nclasses);
	src->next = cifar_next;
	src->close = cifar_close;
	src->state = st;
	return src;

fail:
	free(st);
	free(src);
	return NULL;
}

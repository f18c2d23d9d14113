/*
 * folder_source.c - a folder of PNG and JPEG files with one subfolder per class.  Classes are
 * numbered in the byte order of the subfolder names (not the locale's), so the numbering is
 * the same on every machine; files are decoded with the core's libpng/libjpeg codec.
 */
#include "loader.h"

#include "core/image_codec.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct FolderFile
{
	char	   *path;
	int			label;
} FolderFile;

typedef struct FolderState
{
	FolderFile *files;
	long long	nfiles;
	long long	next;
	MlpDecodedImage decoded;
	LoadBuffer	raw;
} FolderState;

static int
compare_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int
has_image_extension(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
				   strcasecmp(dot, ".jpeg") == 0);
}

static void
free_entries(struct dirent **entries, int n)
{
	for (int i = 0; i < n; i++)
		free(entries[i]);
	free(entries);
}

static int
read_whole(const char *path, LoadBuffer *buf, char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "rb");

	buf->len = 0;
	if (!f)
	{
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;)
	{
		size_t		n;

		if (load_buffer_reserve(buf, 1 << 16) != 0)
		{
			fclose(f);
			snprintf(err, errlen, "%s: out of memory", path);
			return -1;
		}
		n = fread(buf->data + buf->len, 1, buf->cap - buf->len, f);
		buf->len += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
	{
		snprintf(err, errlen, "%s: read error", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* The codec's free leaves the struct as it was, so clear it: it is freed again later. */
static void
drop_decoded(FolderState *st)
{
	mlp_decoded_image_free(&st->decoded);
	memset(&st->decoded, 0, sizeof(st->decoded));
}

static int
folder_next(LoadSource *src, LoadSample *out, char *err, size_t errlen)
{
	FolderState *st = src->state;
	FolderFile *file;
	char		msg[256];

	drop_decoded(st);
	if (st->next >= st->nfiles)
		return 0;
	file = &st->files[st->next];
	if (read_whole(file->path, &st->raw, err, errlen) != 0)
		return -1;
	if (mlp_image_decode(st->raw.data, st->raw.len, LOAD_MAX_SIDE, &st->decoded,
						 msg, sizeof(msg)) != 0)
	{
		snprintf(err, errlen, "%s: cannot decode image: %s", file->path, msg);
		return -1;
	}
	st->next++;
	out->channels = st->decoded.channels;
	out->height = st->decoded.height;
	out->width = st->decoded.width;
	out->pixels = st->decoded.data;
	out->label = file->label;
	return 1;
}

static void
folder_close(LoadSource *src)
{
	FolderState *st = src->state;

	drop_decoded(st);
	for (long long i = 0; i < st->nfiles; i++)
		free(st->files[i].path);
	free(st->files);
	free(st->raw.data);
	for (int i = 0; i < src->nclasses; i++)
		free(src->class_names[i]);
	free(src->class_names);
	free(st);
	free(src);
}

/* dir/name into out; -1 with err when it does not fit. */
static int
make_path(char *out, size_t outlen, const char *dir, const char *name, char *err,
		  size_t errlen)
{
	int			n = snprintf(out, outlen, "%s/%s", dir, name);

	if (n < 0 || (size_t) n >= outlen)
	{
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	return 0;
}

static int
is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

LoadSource *
folder_source_open(const char *dir, char *err, size_t errlen)
{
	FolderState *st = calloc(1, sizeof(FolderState));
	LoadSource *src = calloc(1, sizeof(LoadSource));
	struct dirent **top = NULL;
	int			ntop = -1;
	long long	cap = 0;
	long long	skipped = 0;
	char		first_skipped[4096] = "";
	char		path[4096];
	int			empty_classes = 0;

	if (!st || !src)
	{
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	src->state = st;
	ntop = scandir(dir, &top, not_hidden, compare_names);
	if (ntop < 0)
	{
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	src->class_names = calloc((size_t) ntop + 1, sizeof(char *));
	if (!src->class_names)
	{
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < ntop; i++)
	{
		struct dirent **files = NULL;
		int			nfiles;
		int			label;
		long long	before = st->nfiles;

		if (make_path(path, sizeof(path), dir, top[i]->d_name, err, errlen) != 0)
			goto fail;
		if (!is_dir(path))
		{
			if (!skipped++)
				snprintf(first_skipped, sizeof(first_skipped), "%s", path);
			continue;
		}
		label = src->nclasses;
		src->class_names[src->nclasses++] = strdup(top[i]->d_name);
		nfiles = scandir(path, &files, not_hidden, compare_names);
		if (nfiles < 0)
		{
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		for (int j = 0; j < nfiles; j++)
		{
			char		file[4096];
			struct stat sb;

			if (make_path(file, sizeof(file), path, files[j]->d_name, err, errlen) != 0)
			{
				free_entries(files, nfiles);
				goto fail;
			}
			if (stat(file, &sb) != 0 || !S_ISREG(sb.st_mode) ||
				!has_image_extension(files[j]->d_name))
			{
				if (!skipped++)
					snprintf(first_skipped, sizeof(first_skipped), "%s", file);
				continue;
			}
			if (st->nfiles == cap)
			{
				FolderFile *grown;

				cap = cap ? cap * 2 : 1024;
				grown = realloc(st->files, (size_t) cap * sizeof(FolderFile));
				if (!grown)
				{
					free_entries(files, nfiles);
					snprintf(err, errlen, "out of memory");
					goto fail;
				}
				st->files = grown;
			}
			st->files[st->nfiles].path = strdup(file);
			st->files[st->nfiles].label = label;
			st->nfiles++;
		}
		free_entries(files, nfiles);
		if (st->nfiles == before)
			empty_classes++;
	}
	free_entries(top, ntop);
	top = NULL;

	if (src->nclasses == 0)
	{
		snprintf(err, errlen, "%s: no class subfolders (expected one subfolder of PNG/JPEG "
				 "files per class)", dir);
		goto fail;
	}
	if (st->nfiles == 0)
	{
		snprintf(err, errlen, "%s: no .png, .jpg or .jpeg files in its %d subfolders", dir,
				 src->nclasses);
		goto fail;
	}
	if (skipped || empty_classes)
	{
		int			n = 0;

		if (skipped)
			n = snprintf(src->note, sizeof(src->note), "skipped %lld entries that are not "
						 ".png/.jpg/.jpeg files in a class subfolder (first: %s)", skipped,
						 first_skipped);
		if (empty_classes && n >= 0 && (size_t) n < sizeof(src->note))
			snprintf(src->note + n, sizeof(src->note) - (size_t) n,
					 "%s%d class subfolders hold no images (their labels stay unused)",
					 skipped ? "; " : "", empty_classes);
	}
	src->format = "folder";
	src->total = st->nfiles;
	src->next = folder_next;
	src->close = folder_close;
	return src;

fail:
	if (top)
		free_entries(top, ntop);
	if (src && src->state)
	{
		for (long long i = 0; i < st->nfiles; i++)
			free(st->files[i].path);
		free(st->files);
		for (int i = 0; i < src->nclasses; i++)
			free(src->class_names[i]);
		free(src->class_names);
	}
	free(st);
	free(src);
	return NULL;
}

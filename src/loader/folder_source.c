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

/* What a scan of the folder collects besides the files: what it skipped, empty classes. */
typedef struct FolderScan
{
	FolderState *st;
	long long	cap;			/* of st->files */
	long long	skipped;
	char		first_skipped[4096];
	int			empty_classes;
} FolderScan;

static void
skip_entry(FolderScan *sc, const char *path)
{
	if (!sc->skipped++)
		snprintf(sc->first_skipped, sizeof(sc->first_skipped), "%s", path);
}

static int
add_file(FolderScan *sc, const char *file, int label, char *err, size_t errlen)
{
	FolderState *st = sc->st;

	if (st->nfiles == sc->cap)
	{
		long long	cap = sc->cap ? sc->cap * 2 : 1024;
		FolderFile *grown = realloc(st->files, (size_t) cap * sizeof(FolderFile));

		if (!grown)
		{
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		st->files = grown;
		sc->cap = cap;
	}
	st->files[st->nfiles].path = strdup(file);
	if (!st->files[st->nfiles].path)
	{
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->files[st->nfiles].label = label;
	st->nfiles++;
	return 0;
}

/* The PNG/JPEG files of one class subfolder, in name order, as samples of label. */
static int
scan_class(FolderScan *sc, const char *path, int label, char *err, size_t errlen)
{
	struct dirent **files = NULL;
	int			nfiles = scandir(path, &files, not_hidden, compare_names);
	long long	before = sc->st->nfiles;
	int			rc = 0;

	if (nfiles < 0)
	{
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (int j = 0; j < nfiles && rc == 0; j++)
	{
		char		file[4096];
		struct stat sb;

		if (make_path(file, sizeof(file), path, files[j]->d_name, err, errlen) != 0)
			rc = -1;
		else if (stat(file, &sb) != 0 || !S_ISREG(sb.st_mode) ||
				 !has_image_extension(files[j]->d_name))
			skip_entry(sc, file);
		else
			rc = add_file(sc, file, label, err, errlen);
	}
	free_entries(files, nfiles);
	if (rc == 0 && sc->st->nfiles == before)
		sc->empty_classes++;
	return rc;
}

/* The note for the user: entries skipped, class subfolders without images. */
static void
write_note(LoadSource *src, const FolderScan *sc)
{
	int			n = 0;

	if (sc->skipped)
		n = snprintf(src->note, sizeof(src->note), "skipped %lld entries that are not "
					 ".png/.jpg/.jpeg files in a class subfolder (first: %s)", sc->skipped,
					 sc->first_skipped);
	if (sc->empty_classes && n >= 0 && (size_t) n < sizeof(src->note))
		snprintf(src->note + n, sizeof(src->note) - (size_t) n,
				 "%s%d class subfolders hold no images (their labels stay unused)",
				 sc->skipped ? "; " : "", sc->empty_classes);
}

/* Every subfolder of dir is a class (in byte order of the names), its files its samples. */
static int
scan_folder(LoadSource *src, FolderScan *sc, const char *dir, char *err, size_t errlen)
{
	struct dirent **top = NULL;
	int			ntop = scandir(dir, &top, not_hidden, compare_names);
	int			rc = 0;

	if (ntop < 0)
	{
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	src->class_names = calloc((size_t) ntop + 1, sizeof(char *));
	if (!src->class_names)
	{
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	for (int i = 0; i < ntop && rc == 0; i++)
	{
		char		path[4096];

		if (make_path(path, sizeof(path), dir, top[i]->d_name, err, errlen) != 0)
			rc = -1;
		else if (!is_dir(path))
			skip_entry(sc, path);
		else
		{
			int			label = src->nclasses;

			src->class_names[src->nclasses++] = strdup(top[i]->d_name);
			rc = scan_class(sc, path, label, err, errlen);
		}
	}
	free_entries(top, ntop);
	return rc;
}

LoadSource *
folder_source_open(const char *dir, char *err, size_t errlen)
{
	FolderState *st = calloc(1, sizeof(FolderState));
	LoadSource *src = calloc(1, sizeof(LoadSource));
	FolderScan	sc = {.st = st};

	if (!st || !src)
	{
		snprintf(err, errlen, "out of memory");
		free(st);
		free(src);
		return NULL;
	}
	src->state = st;
	if (scan_folder(src, &sc, dir, err, errlen) != 0)
		goto fail;
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
	write_note(src, &sc);
	src->format = "folder";
	src->total = st->nfiles;
	src->next = folder_next;
	src->close = folder_close;
	return src;

fail:
	folder_close(src);
	return NULL;
}

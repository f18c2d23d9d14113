/*
 * folder_source.c - PNG and JPEG files: a tree with one top-level folder per class (images at
 * any depth under it, as torchvision's ImageFolder reads it), or a flat folder whose labels
 * come from a labels file.  Classes are numbered in the byte order of the folder names (not
 * the locale's), so the numbering is the same on every machine.
 *
 * Files are decoded (the core's libpng/libjpeg codec), converted (--channels) and resized
 * (--size) by worker threads, a chunk of consecutive files at a time; the main thread takes
 * the chunks in file order from a ring, so the rows, and the first error reported, do not
 * depend on the number of threads.  The workers never touch libpq.
 */
#include "loader.h"

#include "core/augment.h"
#include "core/image_codec.h"
#include "core/image_format.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper trees are refused: a symbolic link loop would otherwise never end. */
#define FOLDER_MAX_DEPTH 32

/*
 * Files per chunk: one hand-over between threads per chunk, not per file (a wake-up per
 * 64x64 JPEG cost a third of the decoding rate on a busy machine).
 */
#define FOLDER_CHUNK 16

typedef struct FolderFile
{
	char	   *path;
	size_t		dirlen;			/* of the folder part of path, without the last '/' */
	int			label;
} FolderFile;

typedef enum ChunkState
{
	CHUNK_FREE,					/* may be claimed for the next files */
	CHUNK_BUSY,					/* a worker decodes files first.. into it */
	CHUNK_DONE					/* decoded (or failed); the main thread takes it */
} ChunkState;

typedef struct Slot
{
	int			failed;
	char		err[1024];
	int			channels;
	int			height;
	int			width;
	uint8_t    *pixels;
	size_t		cap;
} Slot;

typedef struct Chunk
{
	ChunkState	state;
	long long	first;			/* file index of slot[0] */
	int			count;
	Slot		slot[FOLDER_CHUNK];
} Chunk;

typedef struct FolderState FolderState;

typedef struct Worker
{
	FolderState *st;
	pthread_t	thread;
	LoadBuffer	raw;			/* the file's bytes */
	uint8_t    *converted;		/* after --channels, before --size */
	size_t		converted_cap;
	int			dirfd;			/* the folder of the last file read, or -1 */
	const FolderFile *dirof;	/* a file in that folder */
} Worker;

struct FolderState
{
	FolderFile *files;
	long long	nfiles;
	FolderOptions opt;

	/*
	 * The ring: file i goes to chunks[(i / FOLDER_CHUNK) % nchunks], slot i % FOLDER_CHUNK;
	 * everything below is guarded by mu.
	 */
	pthread_mutex_t mu;
	pthread_cond_t done;		/* a chunk became CHUNK_DONE */
	pthread_cond_t freed;		/* a chunk became CHUNK_FREE, or stop was set */
	Chunk	   *chunks;
	int			nchunks;
	long long	claimed;		/* next file a worker takes (a multiple of FOLDER_CHUNK) */
	long long	consumed;		/* next file the main thread returns */
	Chunk	   *held;			/* the chunk the main thread reads from, or NULL */
	int			stop;

	Worker	   *workers;
	int			nworkers;		/* started */
	int			sync_ready;		/* mu and the conditions exist */
};

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

/*
 * The whole file into buf: open, fstat, one read of its size (fopen and fread cost a stdio
 * buffer and a second read to see the end, per file).
 */
static int
read_whole_at(int dirfd, const char *name, const char *path, LoadBuffer *buf, char *err,
			  size_t errlen)
{
	int			fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	size_t		size = 0;

	buf->len = 0;
	if (fd < 0)
	{
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		size = (size_t) sb.st_size;
	for (;;)
	{
		ssize_t		n;

		if (load_buffer_reserve(buf, size > buf->len ? size - buf->len : 1 << 16) != 0)
		{
			close(fd);
			snprintf(err, errlen, "%s: out of memory", path);
			return -1;
		}
		n = read(fd, buf->data + buf->len, buf->cap - buf->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
		{
			snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		buf->len += (size_t) n;
		/* a regular file is read once its size is: no second read to see its end */
		if (n == 0 || (size > 0 && buf->len >= size))
			break;
	}
	close(fd);
	return 0;
}

static int
read_whole(const char *path, LoadBuffer *buf, char *err, size_t errlen)
{
	return read_whole_at(AT_FDCWD, path, path, buf, err, errlen);
}

/*
 * A file of the tree, opened relative to its folder: the files come folder by folder, and
 * the kernel then looks up one name per file instead of the whole path.
 */
static int
read_file(Worker *w, const FolderFile *file, char *err, size_t errlen)
{
	if (file->dirlen == 0)
		return read_whole(file->path, &w->raw, err, errlen);
	if (!w->dirof || w->dirof->dirlen != file->dirlen ||
		memcmp(w->dirof->path, file->path, file->dirlen) != 0)
	{
		char		dir[4096];

		if (w->dirfd >= 0)
			close(w->dirfd);
		w->dirof = NULL;
		snprintf(dir, sizeof(dir), "%.*s", (int) file->dirlen, file->path);
		w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (w->dirfd < 0)
			return read_whole(file->path, &w->raw, err, errlen);
		w->dirof = file;
	}
	return read_whole_at(w->dirfd, file->path + file->dirlen + 1, file->path, &w->raw, err,
						 errlen);
}

static int
grow(uint8_t **p, size_t *cap, size_t need)
{
	uint8_t    *grown;

	if (need <= *cap)
		return 0;
	grown = realloc(*p, need);
	if (!grown)
		return -1;
	*p = grown;
	*cap = need;
	return 0;
}

/*
 * One file into its slot: read, decode, convert the channels, resize.  Runs on a worker
 * thread; touches only the worker's buffers and the slot it claimed.
 */
static void
decode_file(Worker *w, const FolderFile *file, Slot *slot)
{
	const FolderOptions *opt = &w->st->opt;
	MlpDecodedImage dec = {0};
	char		msg[256];
	const uint8_t *pixels;
	int			c,
				h,
				wd;

	slot->failed = 1;
	if (read_file(w, file, slot->err, sizeof(slot->err)) != 0)
		return;
	if (mlp_image_decode(w->raw.data, w->raw.len, LOAD_MAX_SIDE, &dec, msg, sizeof(msg)) != 0)
	{
		snprintf(slot->err, sizeof(slot->err), "%s: cannot decode image: %s", file->path, msg);
		return;
	}
	pixels = dec.data;
	c = dec.channels;
	h = dec.height;
	wd = dec.width;
	if (opt->channels && opt->channels != c)
	{
		if (grow(&w->converted, &w->converted_cap, (size_t) opt->channels * h * wd) != 0)
			goto oom;
		if (mlp_image_convert_channels(pixels, c, h, wd, w->converted, opt->channels) != 0)
		{
			snprintf(slot->err, sizeof(slot->err), "%s: cannot convert %d channels to %d",
					 file->path, c, opt->channels);
			goto done;
		}
		pixels = w->converted;
		c = opt->channels;
	}
	if (opt->height && (opt->height != h || opt->width != wd))
	{
		if (grow(&slot->pixels, &slot->cap, (size_t) c * opt->height * opt->width) != 0)
			goto oom;
		mlp_resize_area_u8(pixels, c, h, wd, slot->pixels, opt->height, opt->width);
		h = opt->height;
		wd = opt->width;
	}
	else if (pixels == dec.data)
	{
		/* the decoder's buffer becomes the slot's: no copy */
		free(slot->pixels);
		slot->pixels = dec.data;
		slot->cap = (size_t) c * h * wd;
		dec.data = NULL;
	}
	else
	{
		if (grow(&slot->pixels, &slot->cap, (size_t) c * h * wd) != 0)
			goto oom;
		memcpy(slot->pixels, pixels, (size_t) c * h * wd);
	}
	slot->channels = c;
	slot->height = h;
	slot->width = wd;
	slot->failed = 0;
	goto done;

oom:
	snprintf(slot->err, sizeof(slot->err), "%s: out of memory", file->path);
done:
	mlp_decoded_image_free(&dec);
}

static void *
worker_main(void *arg)
{
	Worker	   *w = arg;
	FolderState *st = w->st;

	pthread_mutex_lock(&st->mu);
	for (;;)
	{
		Chunk	   *chunk;

		/* a chunk is claimed again only once the main thread has read all of it */
		while (!st->stop && st->claimed < st->nfiles &&
			   st->chunks[(st->claimed / FOLDER_CHUNK) % st->nchunks].state != CHUNK_FREE)
			pthread_cond_wait(&st->freed, &st->mu);
		if (st->stop || st->claimed >= st->nfiles)
			break;
		chunk = &st->chunks[(st->claimed / FOLDER_CHUNK) % st->nchunks];
		chunk->state = CHUNK_BUSY;
		chunk->first = st->claimed;
		chunk->count = (int) (st->nfiles - st->claimed < FOLDER_CHUNK ?
							  st->nfiles - st->claimed : FOLDER_CHUNK);
		st->claimed += chunk->count;
		pthread_mutex_unlock(&st->mu);

		/* the main thread stops at the first failure, so the files after it are left */
		for (int k = 0; k < chunk->count; k++)
		{
			decode_file(w, &st->files[chunk->first + k], &chunk->slot[k]);
			if (chunk->slot[k].failed)
				break;
		}

		pthread_mutex_lock(&st->mu);
		chunk->state = CHUNK_DONE;
		pthread_cond_broadcast(&st->done);
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

static int
folder_next(LoadSource *src, LoadSample *out, char *err, size_t errlen)
{
	FolderState *st = src->state;
	long long	i = st->consumed;
	Slot	   *slot;

	if (i % FOLDER_CHUNK == 0 || i >= st->nfiles)
	{
		/* the end of a chunk: give it back, wait for the next one */
		Chunk	   *next = &st->chunks[(i / FOLDER_CHUNK) % st->nchunks];

		pthread_mutex_lock(&st->mu);
		if (st->held)
		{
			st->held->state = CHUNK_FREE;
			st->held = NULL;
			pthread_cond_broadcast(&st->freed);
		}
		if (i >= st->nfiles)
		{
			pthread_mutex_unlock(&st->mu);
			return 0;
		}
		while (!(next->state == CHUNK_DONE && next->first == i))
			pthread_cond_wait(&st->done, &st->mu);
		st->held = next;
		pthread_mutex_unlock(&st->mu);
	}
	slot = &st->held->slot[i - st->held->first];
	st->consumed++;
	if (slot->failed)
	{
		snprintf(err, errlen, "%s", slot->err);
		return -1;
	}
	out->channels = slot->channels;
	out->height = slot->height;
	out->width = slot->width;
	out->pixels = slot->pixels;
	out->label = st->files[i].label;
	out->name = st->files[i].path;
	return 1;
}

static void
stop_workers(FolderState *st)
{
	if (!st->sync_ready)
		return;
	pthread_mutex_lock(&st->mu);
	st->stop = 1;
	pthread_cond_broadcast(&st->freed);
	pthread_mutex_unlock(&st->mu);
	for (int i = 0; i < st->nworkers; i++)
		pthread_join(st->workers[i].thread, NULL);
	st->nworkers = 0;
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
folder_close(LoadSource *src)
{
	FolderState *st = src->state;

	stop_workers(st);
	if (st->workers)
	{
		for (int i = 0; i < st->opt.jobs; i++)
		{
			free(st->workers[i].raw.data);
			free(st->workers[i].converted);
			if (st->workers[i].dirfd >= 0)
				close(st->workers[i].dirfd);
		}
		free(st->workers);
	}
	if (st->chunks)
	{
		for (int i = 0; i < st->nchunks; i++)
			for (int k = 0; k < FOLDER_CHUNK; k++)
				free(st->chunks[i].slot[k].pixels);
		free(st->chunks);
	}
	if (st->sync_ready)
	{
		pthread_mutex_destroy(&st->mu);
		pthread_cond_destroy(&st->done);
		pthread_cond_destroy(&st->freed);
	}
	for (long long i = 0; i < st->nfiles; i++)
		free(st->files[i].path);
	free(st->files);
	free_names(src->class_names, src->nclasses);
	free(st);
	free(src);
}

/* The ring (two chunks per worker, so each can work while the main thread sends) and workers. */
static int
start_workers(FolderState *st, char *err, size_t errlen)
{
	st->nchunks = 2 * st->opt.jobs + 1;
	st->chunks = calloc((size_t) st->nchunks, sizeof(Chunk));
	st->workers = calloc((size_t) st->opt.jobs, sizeof(Worker));
	if (!st->chunks || !st->workers)
	{
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < st->opt.jobs; i++)
		st->workers[i].dirfd = -1;
	if (pthread_mutex_init(&st->mu, NULL) != 0 || pthread_cond_init(&st->done, NULL) != 0 ||
		pthread_cond_init(&st->freed, NULL) != 0)
	{
		snprintf(err, errlen, "cannot create the decoding threads' locks");
		return -1;
	}
	st->sync_ready = 1;
	for (int i = 0; i < st->opt.jobs; i++)
	{
		int			rc;

		st->workers[i].st = st;
		rc = pthread_create(&st->workers[i].thread, NULL, worker_main, &st->workers[i]);
		if (rc != 0)
		{
			snprintf(err, errlen, "cannot start decoding thread %d of %d: %s", i + 1,
					 st->opt.jobs, strerror(rc));
			return -1;
		}
		st->nworkers++;
	}
	return 0;
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
	const char *slash = strrchr(file, '/');

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
	st->files[st->nfiles].dirlen = slash ? (size_t) (slash - file) : 0;
	st->files[st->nfiles].label = label;
	st->nfiles++;
	return 0;
}

/*
 * ImageFolder's order: by label, then by the folder a file is in (its whole path, compared as
 * bytes, as Python compares the sorted roots of os.walk), then by file name.
 */
static int
compare_files(const void *pa, const void *pb)
{
	const FolderFile *a = pa;
	const FolderFile *b = pb;
	size_t		n = a->dirlen < b->dirlen ? a->dirlen : b->dirlen;
	int			c;

	if (a->label != b->label)
		return a->label < b->label ? -1 : 1;
	c = memcmp(a->path, b->path, n);
	if (c != 0)
		return c;
	if (a->dirlen != b->dirlen)
		return a->dirlen < b->dirlen ? -1 : 1;
	return strcmp(a->path + a->dirlen, b->path + b->dirlen);
}

/*
 * What entry of a folder listing file is: 'd' a folder, 'f' a regular file, 'o' anything
 * else, 0 when stat fails.  The listing's type spares a stat per file (5 % of the loader's
 * time for a tree of small JPEGs); symbolic links and file systems that give no type are
 * looked up, so a link to a folder or an image counts as what it points to.
 */
static int
entry_kind(const char *file, const struct dirent *entry)
{
	struct stat sb;

	if (entry->d_type == DT_DIR)
		return 'd';
	if (entry->d_type == DT_REG)
		return 'f';
	if (entry->d_type != DT_LNK && entry->d_type != DT_UNKNOWN)
		return 'o';
	if (stat(file, &sb) != 0)
		return 0;
	return S_ISDIR(sb.st_mode) ? 'd' : S_ISREG(sb.st_mode) ? 'f' : 'o';
}

/* The PNG/JPEG files under path, at any depth, as samples of label. */
static int
scan_tree(FolderScan *sc, const char *path, int label, int depth, char *err, size_t errlen)
{
	struct dirent **entries = NULL;
	int			n;
	int			rc = 0;

	if (depth > FOLDER_MAX_DEPTH)
	{
		snprintf(err, errlen, "%s: more than %d folders deep (a symbolic link loop?)", path,
				 FOLDER_MAX_DEPTH);
		return -1;
	}
	n = scandir(path, &entries, not_hidden, compare_names);
	if (n < 0)
	{
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (int j = 0; j < n && rc == 0; j++)
	{
		char		file[4096];
		int			kind;

		if (make_path(file, sizeof(file), path, entries[j]->d_name, err, errlen) != 0)
			rc = -1;
		else if ((kind = entry_kind(file, entries[j])) == 'd')
			rc = scan_tree(sc, file, label, depth + 1, err, errlen);
		else if (kind == 'f' && has_image_extension(entries[j]->d_name))
			rc = add_file(sc, file, label, err, errlen);
		else
			skip_entry(sc, file);
	}
	free_entries(entries, n);
	return rc;
}

/* The note for the user: entries skipped, class folders without images. */
static void
write_note(LoadSource *src, const FolderScan *sc, const char *where)
{
	int			n = 0;

	if (sc->skipped)
		n = snprintf(src->note, sizeof(src->note), "skipped %lld entries that are not "
					 ".png/.jpg/.jpeg files %s (first: %s)", sc->skipped, where,
					 sc->first_skipped);
	if (sc->empty_classes && n >= 0 && (size_t) n < sizeof(src->note))
		snprintf(src->note + n, sizeof(src->note) - (size_t) n,
				 "%s%d class folders hold no images (their labels stay unused)",
				 sc->skipped ? "; " : "", sc->empty_classes);
}

/* The sorted names of the folders in dir (hidden ones left out); -1 with err. */
static int
list_subfolders(const char *dir, FolderScan *sc, char ***names, int *count, char *err,
				size_t errlen)
{
	struct dirent **top = NULL;
	int			ntop = scandir(dir, &top, not_hidden, compare_names);
	int			rc = 0;

	*names = NULL;
	*count = 0;
	if (ntop < 0)
	{
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	*names = calloc((size_t) ntop + 1, sizeof(char *));
	if (!*names)
	{
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	for (int i = 0; i < ntop && rc == 0; i++)
	{
		char		path[4096];
		struct stat sb;

		if (make_path(path, sizeof(path), dir, top[i]->d_name, err, errlen) != 0)
			rc = -1;
		else if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
		{
			if (sc)
				skip_entry(sc, path);
		}
		else if (!((*names)[(*count)++] = strdup(top[i]->d_name)))
		{
			snprintf(err, errlen, "out of memory");
			rc = -1;
		}
	}
	free_entries(top, ntop);
	return rc;
}

/* Every folder of dir is a class (in byte order of the names), the images under it its samples. */
static int
scan_classes(LoadSource *src, FolderScan *sc, const char *dir, char *err, size_t errlen)
{
	if (list_subfolders(dir, sc, &src->class_names, &src->nclasses, err, errlen) != 0)
		return -1;
	for (int label = 0; label < src->nclasses; label++)
	{
		char		path[4096];
		long long	before = sc->st->nfiles;

		if (make_path(path, sizeof(path), dir, src->class_names[label], err, errlen) != 0 ||
			scan_tree(sc, path, label, 1, err, errlen) != 0)
			return -1;
		if (sc->st->nfiles == before)
			sc->empty_classes++;
	}
	if (src->nclasses == 0)
	{
		snprintf(err, errlen, "%s: no class folders (expected one folder of PNG/JPEG "
				 "files per class, or --labels-file for a flat folder)", dir);
		return -1;
	}
	if (sc->st->nfiles == 0)
	{
		snprintf(err, errlen, "%s: no .png, .jpg or .jpeg files at any depth in its %d class "
				 "folders", dir, src->nclasses);
		return -1;
	}
	return 0;
}

int
folder_list_classes(const char *dir, char ***names, int *count, char *err, size_t errlen)
{
	if (list_subfolders(dir, NULL, names, count, err, errlen) != 0)
	{
		free_names(*names, *count);
		*names = NULL;
		return -1;
	}
	if (*count == 0)
	{
		free(*names);
		*names = NULL;
		snprintf(err, errlen, "%s: no class folders to take the classes from", dir);
		return -1;
	}
	return 0;
}

/* ---- a flat folder and its labels file ------------------------------------------------ */

typedef struct NameLabel
{
	const char *name;
	int			label;
	long		line;			/* of the labels file; 0 for a class */
	int			used;
} NameLabel;

static int
compare_name_labels(const void *a, const void *b)
{
	return strcmp(((const NameLabel *) a)->name, ((const NameLabel *) b)->name);
}

static NameLabel *
find_name(NameLabel *sorted, size_t n, const char *name)
{
	NameLabel	key = {.name = name};

	return bsearch(&key, sorted, n, sizeof(NameLabel), compare_name_labels);
}

/* Splits a line at whitespace into at most max fields (in place); returns the count. */
static int
split_fields(char *line, char **fields, int max)
{
	int			n = 0;
	char	   *p = line;

	while (*p && n < max)
	{
		while (*p && isspace((unsigned char) *p))
			p++;
		if (!*p)
			break;
		fields[n++] = p;
		while (*p && !isspace((unsigned char) *p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

/* The whole of a text file, NUL-terminated; NULL with err. */
static char *
read_text(const char *path, char *err, size_t errlen)
{
	LoadBuffer	buf = {0};

	if (read_whole(path, &buf, err, errlen) != 0 || load_buffer_reserve(&buf, 1) != 0)
	{
		if (!err[0])
			snprintf(err, errlen, "%s: out of memory", path);
		free(buf.data);
		return NULL;
	}
	buf.data[buf.len] = '\0';
	if (memchr(buf.data, '\0', buf.len))
	{
		snprintf(err, errlen, "%s: not a text file (it holds NUL bytes)", path);
		free(buf.data);
		return NULL;
	}
	return (char *) buf.data;
}

/* Lines of text (in place), "\r\n" or "\n"; calls fn for each, stops at its first -1. */
static int
for_each_line(char *text, int (*fn) (char *line, long lineno, void *arg), void *arg)
{
	long		lineno = 0;
	char	   *p = text;

	while (*p)
	{
		char	   *nl = strchr(p, '\n');
		char	   *next = nl ? nl + 1 : p + strlen(p);

		if (nl)
			*nl = '\0';
		if (nl && nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		if (fn(p, ++lineno, arg) != 0)
			return -1;
		p = next;
	}
	return 0;
}

typedef struct ClassFile
{
	const char *path;
	char	  **names;
	int			count;
	int			cap;
	char	   *err;
	size_t		errlen;
} ClassFile;

static int
class_line(char *line, long lineno, void *arg)
{
	ClassFile  *cf = arg;
	char	   *fields[2];
	int			n = split_fields(line, fields, 2);

	if (n == 0)
	{
		snprintf(cf->err, cf->errlen, "%s line %ld: empty (one class name per line, line "
				 "k + 1 naming label k)", cf->path, lineno);
		return -1;
	}
	if (n > 1)
	{
		snprintf(cf->err, cf->errlen, "%s line %ld: more than one name (a class name has no "
				 "spaces)", cf->path, lineno);
		return -1;
	}
	for (int i = 0; i < cf->count; i++)
		if (strcmp(cf->names[i], fields[0]) == 0)
		{
			snprintf(cf->err, cf->errlen, "%s line %ld: class \"%s\" is also on line %d",
					 cf->path, lineno, fields[0], i + 1);
			return -1;
		}
	if (cf->count == cf->cap)
	{
		int			cap = cf->cap ? cf->cap * 2 : 256;
		char	  **grown = realloc(cf->names, (size_t) cap * sizeof(char *));

		if (!grown)
			goto oom;
		cf->names = grown;
		cf->cap = cap;
	}
	if (!(cf->names[cf->count] = strdup(fields[0])))
		goto oom;
	cf->count++;
	return 0;

oom:
	snprintf(cf->err, cf->errlen, "out of memory");
	return -1;
}

int
folder_read_class_file(const char *path, char ***names, int *count, char *err, size_t errlen)
{
	ClassFile	cf = {.path = path, .err = err, .errlen = errlen};
	char	   *text;
	int			rc;

	*names = NULL;
	*count = 0;
	if (!(text = read_text(path, err, errlen)))
		return -1;
	/* a last line without its newline is a line; the empty rest after the last newline is not */
	rc = for_each_line(text, class_line, &cf);
	free(text);
	if (rc == 0 && cf.count == 0)
	{
		snprintf(err, errlen, "%s: no class names", path);
		rc = -1;
	}
	if (rc != 0)
	{
		free_names(cf.names, cf.count);
		return -1;
	}
	*names = cf.names;
	*count = cf.count;
	return 0;
}

typedef struct LabelsFile
{
	const char *path;
	NameLabel  *classes;		/* sorted by name */
	size_t		nclasses;
	NameLabel  *entries;
	size_t		count;
	size_t		cap;
	char	   *err;
	size_t		errlen;
} LabelsFile;

static int
labels_line(char *line, long lineno, void *arg)
{
	LabelsFile *lf = arg;
	char	   *fields[2];
	int			n = split_fields(line, fields, 2);
	NameLabel  *cls;

	if (n == 0)
		return 0;				/* blank lines are allowed */
	if (n < 2)
	{
		snprintf(lf->err, lf->errlen, "%s line %ld: \"%s\" has no class (lines are: file name, "
				 "class, optionally more columns)", lf->path, lineno, fields[0]);
		return -1;
	}
	if (strchr(fields[0], '/'))
	{
		snprintf(lf->err, lf->errlen, "%s line %ld: \"%s\" is a path; the labels file names "
				 "files of the folder itself", lf->path, lineno, fields[0]);
		return -1;
	}
	if (!(cls = find_name(lf->classes, lf->nclasses, fields[1])))
	{
		snprintf(lf->err, lf->errlen, "%s line %ld: unknown class \"%s\" (not one of the %zu "
				 "training classes)", lf->path, lineno, fields[1], lf->nclasses);
		return -1;
	}
	if (lf->count == lf->cap)
	{
		size_t		cap = lf->cap ? lf->cap * 2 : 1024;
		NameLabel  *grown = realloc(lf->entries, cap * sizeof(NameLabel));

		if (!grown)
		{
			snprintf(lf->err, lf->errlen, "out of memory");
			return -1;
		}
		lf->entries = grown;
		lf->cap = cap;
	}
	/* fields point into the text, which lives until the scan ends */
	lf->entries[lf->count++] = (NameLabel)
	{
		.name = fields[0], .label = cls->label, .line = lineno
	};
	return 0;
}

static int
compare_lines(const void *a, const void *b)
{
	long		la = ((const NameLabel *) a)->line;
	long		lb = ((const NameLabel *) b)->line;

	return la < lb ? -1 : la > lb;
}

/*
 * The images of the flat folder dir, in name order, labelled by the labels file: every image
 * must be listed, every listed file must be an image there, and every class a known one.
 */
static int
scan_labelled(LoadSource *src, FolderScan *sc, const char *dir, const char *labels_path,
			  char *err, size_t errlen)
{
	LabelsFile	lf = {.path = labels_path, .err = err, .errlen = errlen};
	struct dirent **entries = NULL;
	int			n = -1;
	char	   *text = NULL;
	int			rc = -1;

	lf.classes = calloc((size_t) src->nclasses + 1, sizeof(NameLabel));
	if (!lf.classes)
		goto oom;
	for (int i = 0; i < src->nclasses; i++)
		if (src->class_names[i])
			lf.classes[lf.nclasses++] = (NameLabel) {.name = src->class_names[i], .label = i};
	qsort(lf.classes, lf.nclasses, sizeof(NameLabel), compare_name_labels);

	if (!(text = read_text(labels_path, err, errlen)))
		goto done;
	if (for_each_line(text, labels_line, &lf) != 0)
		goto done;
	if (lf.count == 0)
	{
		snprintf(err, errlen, "%s: no lines \"file class\"", labels_path);
		goto done;
	}
	qsort(lf.entries, lf.count, sizeof(NameLabel), compare_name_labels);
	for (size_t i = 1; i < lf.count; i++)
		if (strcmp(lf.entries[i - 1].name, lf.entries[i].name) == 0)
		{
			long		a = lf.entries[i - 1].line,
						b = lf.entries[i].line;

			snprintf(err, errlen, "%s line %ld: %s is also on line %ld", labels_path,
					 a > b ? a : b, lf.entries[i].name, a < b ? a : b);
			goto done;
		}

	n = scandir(dir, &entries, not_hidden, compare_names);
	if (n < 0)
	{
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto done;
	}
	for (int j = 0; j < n; j++)
	{
		char		file[4096];
		NameLabel  *e;

		if (make_path(file, sizeof(file), dir, entries[j]->d_name, err, errlen) != 0)
			goto done;
		if (entry_kind(file, entries[j]) != 'f' || !has_image_extension(entries[j]->d_name))
		{
			skip_entry(sc, file);
			continue;
		}
		if (!(e = find_name(lf.entries, lf.count, entries[j]->d_name)))
		{
			snprintf(err, errlen, "%s is not in the labels file %s", file, labels_path);
			goto done;
		}
		e->used = 1;
		if (add_file(sc, file, e->label, err, errlen) != 0)
			goto done;
	}
	/* a listed file that is not an image of the folder: the first in line order */
	qsort(lf.entries, lf.count, sizeof(NameLabel), compare_lines);
	for (size_t i = 0; i < lf.count; i++)
		if (!lf.entries[i].used)
		{
			char		file[4096];
			struct stat sb;

			snprintf(file, sizeof(file), "%s/%s", dir, lf.entries[i].name);
			snprintf(err, errlen, "%s line %ld: %s %s", labels_path, lf.entries[i].line, file,
					 stat(file, &sb) != 0 ? "does not exist" :
					 "is not a .png, .jpg or .jpeg file");
			goto done;
		}
	rc = 0;
	goto done;

oom:
	snprintf(err, errlen, "out of memory");
done:
	if (n > 0)
		free_entries(entries, n);
	else
		free(entries);
	free(lf.classes);
	free(lf.entries);
	free(text);
	return rc;
}

LoadSource *
folder_source_open(const char *dir, const FolderOptions *opt, char *err, size_t errlen)
{
	FolderState *st = calloc(1, sizeof(FolderState));
	LoadSource *src = calloc(1, sizeof(LoadSource));
	FolderScan	sc = {.st = st};

	if (!st || !src)
	{
		snprintf(err, errlen, "out of memory");
		free(st);
		free(src);
		free_names(opt->classes, opt->nclasses);
		return NULL;
	}
	src->state = st;
	st->opt = *opt;
	if (st->opt.jobs < 1)
		st->opt.jobs = 1;
	if (opt->labels_file)
	{
		/* the classes are the caller's (taken over here) */
		src->class_names = opt->classes;
		src->nclasses = opt->nclasses;
		st->opt.classes = NULL;
		if (scan_labelled(src, &sc, dir, opt->labels_file, err, errlen) != 0)
			goto fail;
		if (st->nfiles == 0)
		{
			snprintf(err, errlen, "%s: no .png, .jpg or .jpeg files", dir);
			goto fail;
		}
		write_note(src, &sc, "in the folder");
	}
	else
	{
		if (scan_classes(src, &sc, dir, err, errlen) != 0)
			goto fail;
		qsort(st->files, (size_t) st->nfiles, sizeof(FolderFile), compare_files);
		write_note(src, &sc, "under a class folder");
	}
	if (start_workers(st, err, errlen) != 0)
		goto fail;
	src->format = "folder";
	src->total = st->nfiles;
	src->next = folder_next;
	src->close = folder_close;
	return src;

fail:
	folder_close(src);
	return NULL;
}

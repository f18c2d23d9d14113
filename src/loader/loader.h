/*
 * loader.h - mlpscale-load: labelled image files into a PostgreSQL table over libpq.
 *
 * Readers (IDX, CIFAR binary, a folder of PNG/JPEG files) are "sources" that yield one
 * (image, label) sample at a time; the COPY writer streams them into the table in binary
 * COPY format inside one transaction, so any reader error rolls the whole load back.
 */
#ifndef MLP_LOADER_H
#define MLP_LOADER_H

#include <stddef.h>
#include <stdint.h>

/* The extension's version, from the Makefile (EXTVERSION). */
#ifndef MLP_LOADER_VERSION
#error "build mlpscale-load with make: it defines MLP_LOADER_VERSION"
#endif

/* Exit codes (documented in --help). */
#define LOAD_EXIT_OK 0
#define LOAD_EXIT_INPUT 1		/* a bad, missing or unreadable input file */
#define LOAD_EXIT_USAGE 2		/* bad command line */
#define LOAD_EXIT_DATABASE 3	/* connection, table or COPY problem */

/* Largest side the folder reader decodes (the image type's limit). */
#define LOAD_MAX_SIDE 4096

typedef struct LoadSample
{
	int			channels;
	int			height;
	int			width;
	const uint8_t *pixels;		/* planar; valid until the next call of next() */
	int			label;
	const char *name;			/* the file it came from, for messages; NULL if none */
} LoadSample;

typedef struct LoadSource LoadSource;

struct LoadSource
{
	const char *format;			/* "idx", "cifar10", "cifar100", "folder" */
	long long	total;			/* samples it will yield, -1 when unknown */
	int			nclasses;		/* classes the format defines, 0 when unknown */
	char	  **class_names;	/* nclasses names or NULL */
	char		note[512];		/* something the user should know (skipped files), or "" */

	/* 1 with a sample, 0 at the end, -1 with a message naming the file in err */
	int			(*next) (LoadSource *src, LoadSample *out, char *err, size_t errlen);
	void		(*close) (LoadSource *src);
	void	   *state;
};

/* Opens an IDX image file and its label file (gzip or raw); checks magic numbers and counts. */
LoadSource *idx_source_open(const char *images_path, const char *labels_path,
							char *err, size_t errlen);

/*
 * Opens CIFAR binary files (gzip or raw).  cifar100: records carry a coarse and a fine label
 * byte; fine_labels picks which one becomes the label.
 */
LoadSource *cifar_source_open(char *const *paths, int npaths, int cifar100, int fine_labels,
							  char *err, size_t errlen);

typedef struct FolderOptions
{
	int			jobs;			/* decoding threads, at least 1 */
	int			channels;		/* 1 or 3: convert every image; 0: as decoded */
	int			height;			/* with width: area-resize every image; 0: as decoded */
	int			width;
	const char *labels_file;	/* NULL: a tree of class folders; else a flat folder */
	char	  **classes;		/* with labels_file: the name of label i or NULL, malloc'd */
	int			nclasses;
} FolderOptions;

/*
 * Opens a folder of PNG/JPEG files: one folder per class (classes in sorted order, images at
 * any depth under each), or with opt->labels_file a flat folder labelled by "file class"
 * lines, the classes being opt->classes (taken over by the source, also on failure).
 * Decoding starts at once on opt->jobs threads.
 */
LoadSource *folder_source_open(const char *dir, const FolderOptions *opt, char *err,
							   size_t errlen);

/* Classes as --format folder numbers them: the sorted folder names in dir (malloc'd). */
int			folder_list_classes(const char *dir, char ***names, int *count, char *err,
								size_t errlen);

/* Classes from a file of one name per line, line k + 1 naming label k (malloc'd). */
int			folder_read_class_file(const char *path, char ***names, int *count, char *err,
								   size_t errlen);

/* Growable byte buffer used by the readers and the COPY writer. */
typedef struct LoadBuffer
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
} LoadBuffer;

int			load_buffer_reserve(LoadBuffer *buf, size_t extra);

/* Progress on stderr: a bar on a terminal, a plain line every few seconds otherwise. */
typedef struct LoadProgress
{
	int			enabled;
	int			tty;
	long long	total;			/* -1 when unknown */
	double		start;
	double		last_draw;
	int			drawn;			/* a bar is on screen and needs a newline */
} LoadProgress;

void		progress_init(LoadProgress *p, int enabled, long long total);
void		progress_update(LoadProgress *p, long long done);
void		progress_finish(LoadProgress *p, long long done);

#endif

/*
 * main.c - mlpscale-load's command line: picks the reader for the input, then streams its
 * samples into the table (or only counts them with --dry-run) and prints a summary.
 */
#include "copy_writer.h"
#include "loader.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/image_format.h"

static const char *progname = "mlpscale-load";

typedef struct Options
{
	const char *dbname;
	const char *host;
	const char *port;
	const char *user;
	LoadTarget	target;
	const char *format;			/* NULL: detect */
	const char *images;
	const char *labels;
	int			fine_labels;
	long long	limit;			/* -1: all */
	int			dry_run;
	int			quiet;
	const char *labels_file;	/* a flat folder's "file class" lines */
	const char *classes_file;	/* --classes: a file of names, or a folder of class folders */
	const char *classes_from;	/* --classes-from: a table loaded before */
	int			channels;		/* 0: as decoded */
	int			height;			/* --size; 0: as decoded */
	int			width;
	int			jobs;
	char	  **inputs;
	int			ninputs;
} Options;

static void
usage(FILE *out)
{
	fprintf(out,
			"%s loads labelled images into a PostgreSQL table for mlpscale.\n"
			"\n"
			"Usage:\n"
			"  %s --table NAME [OPTION]... INPUT...\n"
			"  %s --table NAME --images FILE [--labels FILE] [OPTION]...\n"
			"\n"
			"Inputs (the format is detected when --format is not given):\n"
			"  idx       MNIST/Fashion-MNIST IDX files, gzip or raw: --images and --labels, an\n"
			"            images file (its labels file is found by name), or their folder with\n"
			"            --split train|test (train-* or t10k-* files)\n"
			"  cifar10   CIFAR-10 binary files (1 label byte + 3072 pixels per record), or\n"
			"            their folder with --split train|test (data_batch_*.bin or test_batch.bin)\n"
			"  cifar100  CIFAR-100 binary files (coarse, fine, 3072), or their folder with\n"
			"            --split train|test (train.bin or test.bin)\n"
			"  folder    a folder with one folder per class, PNG/JPEG files at any depth under\n"
			"            it (classes numbered in sorted folder order, files in sorted order);\n"
			"            or, with --labels-file, a flat folder of images\n"
			"\n"
			"Options:\n"
			"  -t, --table=NAME          table to create (or append to); may be schema.name\n"
			"  -f, --format=FORMAT       idx, cifar10, cifar100 or folder\n"
			"      --images=FILE         IDX image file\n"
			"      --labels=FILE         IDX label file\n"
			"      --cifar100-labels=fine|coarse   which CIFAR-100 label to load (fine)\n"
			"  -s, --split=NAME          store NAME in a \"split\" column (e.g. train, test)\n"
			"  -a, --append              add rows to the table (it is created when missing)\n"
			"      --replace             drop the table first and load it afresh\n"
			"      --compression=lz4|pglz|none   of a new table's images (lz4 when the\n"
			"                            server has it); none for photographs, which\n"
			"                            hardly compress: stored out of line as they are\n"
			"  -n, --limit=N             load at most the first N images\n"
			"      --image-column=NAME   (image)   --label-column=NAME (label)\n"
			"      --split-column=NAME   (split)   --class-column=NAME (class_name)\n"
			"      --dry-run             read and check the input, count, touch no database\n"
			"  -q, --quiet               no progress display\n"
			"      --help, --version\n"
			"\n"
			"Folders of PNG/JPEG files:\n"
			"      --channels=1|3        convert every image to grey (BT.601 luma) or RGB\n"
			"      --size=HxW            area-resize every image to H x W pixels\n"
			"      --labels-file=FILE    lines \"file class ...\" for a flat folder of images\n"
			"      --classes=FILE|DIR    the training classes in label order: one name per\n"
			"                            line, or a folder whose class folders give them\n"
			"      --classes-from=TABLE  the classes of a table loaded before (its distinct\n"
			"                            label and class_name); with --append the default\n"
			"  -j, --jobs=N              decoding threads (default: the online CPUs)\n"
			"\n"
			"Connection (the libpq way: PGHOST, PGPORT, PGUSER, PGDATABASE, ... apply):\n"
			"  -d, --dbname=DBNAME       database name or connection string (postgresql://...)\n"
			"  -h, --host=HOST  -p, --port=PORT  -U, --username=USER\n"
			"\n"
			"Everything happens in one transaction: a bad file leaves the database unchanged.\n"
			"Exit status: 0 loaded, 1 bad or missing input, 2 bad command line, 3 database error.\n"
			"\n"
			"Examples:\n"
			"  %s --table fashion --split train /usr/share/datasets/fashion-mnist\n"
			"  %s --table tiny --split train tiny-imagenet-200/train\n"
			"  %s --table tiny --split val --append \\\n"
			"      --labels-file tiny-imagenet-200/val/val_annotations.txt \\\n"
			"      tiny-imagenet-200/val/images\n",
			progname, progname, progname, progname, progname, progname);
}

static void
fail_usage(const char *msg)
{
	fprintf(stderr, "%s: %s\nTry \"%s --help\" for more information.\n", progname, msg,
			progname);
	exit(LOAD_EXIT_USAGE);
}

static int
is_directory(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int
is_file(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static char *
join_path(const char *dir, const char *name)
{
	size_t		n = strlen(dir) + strlen(name) + 2;
	char	   *p = malloc(n);

	if (!p)
	{
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(LOAD_EXIT_INPUT);
	}
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* dir/NAME or dir/NAME.gz, whichever exists; NULL when neither does. */
static char *
find_maybe_gz(const char *dir, const char *name)
{
	char	   *p = join_path(dir, name);
	char		gz[4096];

	if (is_file(p))
		return p;
	snprintf(gz, sizeof(gz), "%s.gz", p);
	free(p);
	if (is_file(gz))
		return strdup(gz);
	return NULL;
}

/* The label file beside an IDX image file: "...images-idx3-ubyte..." -> "...labels-idx1-ubyte...". */
static char *
idx_labels_for(const char *images)
{
	const char *at = strstr(images, "images-idx3-ubyte");
	char	   *labels;
	size_t		prefix;

	if (!at)
		return NULL;
	prefix = (size_t) (at - images);
	labels = malloc(strlen(images) + 1);
	if (!labels)
		return NULL;
	memcpy(labels, images, prefix);
	strcpy(labels + prefix, "labels-idx1-ubyte");
	strcat(labels, at + strlen("images-idx3-ubyte"));
	return labels;
}

/* Files matching dir/pattern, sorted; exits when none match. */
static int
glob_files(const char *dir, const char *pattern, char ***paths)
{
	glob_t		g;
	char	   *pat = join_path(dir, pattern);
	int			n;

	if (glob(pat, 0, NULL, &g) != 0 || g.gl_pathc == 0)
	{
		fprintf(stderr, "%s: %s: no file matches %s\n", progname, dir, pattern);
		exit(LOAD_EXIT_INPUT);
	}
	free(pat);
	n = (int) g.gl_pathc;
	*paths = calloc((size_t) n, sizeof(char *));
	for (int i = 0; i < n && *paths; i++)
		(*paths)[i] = strdup(g.gl_pathv[i]);
	globfree(&g);
	return n;
}

static const char *
split_prefix(const Options *o, const char *dir, const char *what)
{
	const char *split = o->target.split;

	if (!split)
	{
		fprintf(stderr, "%s: %s is a folder of %s files: give --split train or --split test to "
				"pick the files, or name the files\n", progname, dir, what);
		exit(LOAD_EXIT_USAGE);
	}
	if (strcmp(split, "train") == 0)
		return "train";
	if (strcmp(split, "test") == 0)
		return "test";
	fprintf(stderr, "%s: %s is a folder of %s files: --split \"%s\" does not say which files to "
			"load (train or test does); or name the files\n", progname, dir, what, split);
	exit(LOAD_EXIT_USAGE);
}

/* Which format a folder holds, from the names in it; NULL when it looks like none. */
static const char *
detect_folder_format(const char *dir)
{
	glob_t		g;
	char	   *pat;
	const char *format = NULL;
	const char *idx_patterns[] = {"*-images-idx3-ubyte", "*-images-idx3-ubyte.gz"};
	char	   *p;

	p = join_path(dir, "data_batch_1.bin");
	if (is_file(p))
		format = "cifar10";
	free(p);
	p = join_path(dir, "test_batch.bin");
	if (!format && is_file(p))
		format = "cifar10";
	free(p);
	p = join_path(dir, "train.bin");
	if (!format && is_file(p))
		format = "cifar100";
	free(p);
	p = join_path(dir, "test.bin");
	if (!format && is_file(p))
		format = "cifar100";
	free(p);
	for (int i = 0; i < 2 && !format; i++)
	{
		pat = join_path(dir, idx_patterns[i]);
		if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0)
			format = "idx";
		globfree(&g);
		free(pat);
	}
	return format ? format : "folder";
}

/* Format of a single file, from its name or its size; exits when it cannot tell. */
static const char *
detect_file_format(const char *path)
{
	struct stat sb;
	int			c10;
	int			c100;

	if (strstr(path, "images-idx3-ubyte"))
		return "idx";
	if (strstr(path, "labels-idx1-ubyte"))
	{
		fprintf(stderr, "%s: %s is an IDX label file: name the image file (or use --images "
				"and --labels)\n", progname, path);
		exit(LOAD_EXIT_USAGE);
	}
	if (stat(path, &sb) != 0)
	{
		fprintf(stderr, "%s: %s: %s\n", progname, path, strerror(errno));
		exit(LOAD_EXIT_INPUT);
	}
	c10 = sb.st_size > 0 && sb.st_size % 3073 == 0;
	c100 = sb.st_size > 0 && sb.st_size % 3074 == 0;
	if (c10 != c100)
		return c10 ? "cifar10" : "cifar100";
	fprintf(stderr, "%s: cannot tell the format of %s: give --format (idx, cifar10, cifar100 or "
			"folder)\n", progname, path);
	exit(LOAD_EXIT_USAGE);
}

/* The libpq keywords of the options (6 entries, NULL-terminated). */
static void
connection_params(const Options *o, const char **keywords, const char **values)
{
	int			k = 0;

	/* dbname first: expanded as a connection string, later keywords override it */
	keywords[k] = "dbname";
	values[k++] = o->dbname;
	keywords[k] = "host";
	values[k++] = o->host;
	keywords[k] = "port";
	values[k++] = o->port;
	keywords[k] = "user";
	values[k++] = o->user;
	keywords[k] = "fallback_application_name";
	values[k++] = "mlpscale-load";
	keywords[k] = NULL;
	values[k] = NULL;
}

/*
 * The training classes a labels file refers to: --classes (a file of names, or a folder of
 * class folders), or --classes-from a table (by default, with --append, the target table).
 * Exits on failure.
 */
static void
training_classes(const Options *o, FolderOptions *fo)
{
	char		err[4096] = "";
	int			rc;

	if (o->classes_file && is_directory(o->classes_file))
		rc = folder_list_classes(o->classes_file, &fo->classes, &fo->nclasses, err,
								 sizeof(err));
	else if (o->classes_file)
		rc = folder_read_class_file(o->classes_file, &fo->classes, &fo->nclasses, err,
									sizeof(err));
	else
	{
		const char *table = o->classes_from ? o->classes_from : o->target.table;
		const char *keywords[6];
		const char *values[6];

		if (!o->classes_from && !o->target.append)
			fail_usage("--labels-file needs the training classes: --classes FILE|DIR, "
					   "--classes-from TABLE, or --append to the table of the training split");
		connection_params(o, keywords, values);
		rc = copy_writer_read_classes(keywords, values, table, o->target.label_column,
									  o->target.class_column, &fo->classes, &fo->nclasses,
									  err, sizeof(err));
		if (rc == -2)
		{
			fprintf(stderr, "%s: %s\n", progname, err);
			exit(LOAD_EXIT_DATABASE);
		}
	}
	if (rc != 0)
	{
		fprintf(stderr, "%s: %s\n", progname, err);
		exit(LOAD_EXIT_INPUT);
	}
}

/* Chooses the reader for the command line's inputs and opens it; exits on failure. */
static LoadSource *
open_source(Options *o)
{
	char		err[4096] = "";
	LoadSource *src = NULL;
	const char *format = o->format;
	const char *first = o->ninputs > 0 ? o->inputs[0] : NULL;

	if (o->images)
	{
		if (format && strcmp(format, "idx") != 0)
			fail_usage("--images and --labels are for --format idx");
		if (o->ninputs > 0)
			fail_usage("give either --images/--labels or input files, not both");
		format = "idx";
	}
	else if (o->ninputs == 0)
		fail_usage("no input: name files or a folder (or give --images and --labels)");
	if (!format && o->labels_file)
		format = "folder";
	if (!format)
		format = is_directory(first) ? detect_folder_format(first) : detect_file_format(first);
	if (strcmp(format, "folder") != 0 && (o->labels_file || o->channels || o->height))
		fail_usage("--labels-file, --channels and --size are for --format folder");
	if (first && !is_directory(first) && !is_file(first))
	{
		fprintf(stderr, "%s: %s: %s\n", progname, first, strerror(errno ? errno : ENOENT));
		exit(LOAD_EXIT_INPUT);
	}

	if (strcmp(format, "idx") == 0)
	{
		const char *images = o->images;
		const char *labels = o->labels;

		if (!images && o->ninputs > 1)
			fail_usage("idx takes one input: the image file or its folder");
		if (!images && is_directory(first))
		{
			const char *prefix = split_prefix(o, first, "IDX");
			char		name[64];

			snprintf(name, sizeof(name), "%s-images-idx3-ubyte",
					 strcmp(prefix, "test") == 0 ? "t10k" : prefix);
			images = find_maybe_gz(first, name);
			if (!images && strcmp(prefix, "test") == 0)
				images = find_maybe_gz(first, "test-images-idx3-ubyte");
			if (!images)
			{
				fprintf(stderr, "%s: %s: no %s[.gz] in this folder\n", progname, first, name);
				exit(LOAD_EXIT_INPUT);
			}
		}
		else if (!images)
			images = first;
		if (!labels)
			labels = idx_labels_for(images);
		if (!labels)
		{
			fprintf(stderr, "%s: cannot derive the label file from %s: give --labels\n",
					progname, images);
			exit(LOAD_EXIT_USAGE);
		}
		src = idx_source_open(images, labels, err, sizeof(err));
	}
	else if (strcmp(format, "cifar10") == 0 || strcmp(format, "cifar100") == 0)
	{
		int			cifar100 = strcmp(format, "cifar100") == 0;
		char	  **paths = o->inputs;
		int			npaths = o->ninputs;

		if (o->labels)
			fail_usage("--labels is for --format idx");
		if (npaths == 1 && is_directory(first))
		{
			int			test = strcmp(split_prefix(o, first, cifar100 ? "CIFAR-100" :
												   "CIFAR-10"), "test") == 0;

			npaths = glob_files(first, cifar100 ? (test ? "test.bin" : "train.bin") :
								(test ? "test_batch.bin" : "data_batch_*.bin"), &paths);
		}
		src = cifar_source_open(paths, npaths, cifar100, o->fine_labels, err, sizeof(err));
	}
	else if (strcmp(format, "folder") == 0)
	{
		FolderOptions fo = {.jobs = o->jobs, .channels = o->channels, .height = o->height,
		.width = o->width, .labels_file = o->labels_file};

		if (o->ninputs != 1 || !is_directory(first))
			fail_usage("--format folder takes one folder");
		if (o->labels_file)
			training_classes(o, &fo);
		src = folder_source_open(first, &fo, err, sizeof(err));
	}
	else
	{
		snprintf(err, sizeof(err), "unknown --format \"%s\" (idx, cifar10, cifar100 or folder)",
				 format);
		fail_usage(err);
	}
	if (!src)
	{
		fprintf(stderr, "%s: %s\n", progname, err);
		exit(LOAD_EXIT_INPUT);
	}
	return src;
}

static long long
parse_count(const char *s, const char *opt)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 1)
	{
		char		msg[256];

		snprintf(msg, sizeof(msg), "%s must be a positive integer, not \"%s\"", opt, s);
		fail_usage(msg);
	}
	return v;
}

/* --size HxW: each side 1 to the image type's limit. */
static void
parse_size(const char *s, Options *o)
{
	char	   *end;
	long		h,
				w;

	errno = 0;
	h = strtol(s, &end, 10);
	if (end != s && (*end == 'x' || *end == 'X'))
	{
		const char *ws = end + 1;

		w = strtol(ws, &end, 10);
		if (!errno && end != ws && !*end && isdigit((unsigned char) s[0]) &&
			isdigit((unsigned char) ws[0]) && h >= 1 && w >= 1 &&
			h <= MLP_IMAGE_FORMAT_MAX_SIDE && w <= MLP_IMAGE_FORMAT_MAX_SIDE)
		{
			o->height = (int) h;
			o->width = (int) w;
			return;
		}
	}
	{
		char		msg[256];

		snprintf(msg, sizeof(msg), "--size must be HxW with sides of 1 to %d pixels (e.g. "
				 "64x64), not \"%s\"", MLP_IMAGE_FORMAT_MAX_SIDE, s);
		fail_usage(msg);
	}
}

enum
{
	OPT_IMAGES = 256, OPT_LABELS, OPT_CIFAR100, OPT_REPLACE, OPT_IMAGE_COL, OPT_LABEL_COL,
	OPT_SPLIT_COL, OPT_CLASS_COL, OPT_DRY_RUN, OPT_HELP, OPT_VERSION, OPT_CHANNELS, OPT_SIZE,
	OPT_LABELS_FILE, OPT_CLASSES, OPT_CLASSES_FROM, OPT_COMPRESSION
};

static const struct option longopts[] = {
	{"dbname", required_argument, NULL, 'd'},
	{"host", required_argument, NULL, 'h'},
	{"port", required_argument, NULL, 'p'},
	{"username", required_argument, NULL, 'U'},
	{"table", required_argument, NULL, 't'},
	{"format", required_argument, NULL, 'f'},
	{"images", required_argument, NULL, OPT_IMAGES},
	{"labels", required_argument, NULL, OPT_LABELS},
	{"cifar100-labels", required_argument, NULL, OPT_CIFAR100},
	{"split", required_argument, NULL, 's'},
	{"append", no_argument, NULL, 'a'},
	{"replace", no_argument, NULL, OPT_REPLACE},
	{"limit", required_argument, NULL, 'n'},
	{"image-column", required_argument, NULL, OPT_IMAGE_COL},
	{"label-column", required_argument, NULL, OPT_LABEL_COL},
	{"split-column", required_argument, NULL, OPT_SPLIT_COL},
	{"class-column", required_argument, NULL, OPT_CLASS_COL},
	{"channels", required_argument, NULL, OPT_CHANNELS},
	{"size", required_argument, NULL, OPT_SIZE},
	{"labels-file", required_argument, NULL, OPT_LABELS_FILE},
	{"classes", required_argument, NULL, OPT_CLASSES},
	{"classes-from", required_argument, NULL, OPT_CLASSES_FROM},
	{"jobs", required_argument, NULL, 'j'},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"compression", required_argument, NULL, OPT_COMPRESSION},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0}
};

/* The where of an option: the field of Options it sets, or the exit it asks for. */
static void
apply_option(int c, const char *arg, Options *o)
{
	switch (c)
	{
		case 'd':
			o->dbname = arg;
			break;
		case 'h':
			o->host = arg;
			break;
		case 'p':
			o->port = arg;
			break;
		case 'U':
			o->user = arg;
			break;
		case 't':
			o->target.table = arg;
			break;
		case 'f':
			o->format = arg;
			break;
		case OPT_IMAGES:
			o->images = arg;
			break;
		case OPT_LABELS:
			o->labels = arg;
			break;
		case OPT_CIFAR100:
			if (strcmp(arg, "fine") == 0)
				o->fine_labels = 1;
			else if (strcmp(arg, "coarse") == 0)
				o->fine_labels = 0;
			else
				fail_usage("--cifar100-labels must be fine or coarse");
			break;
		case 's':
			o->target.split = arg;
			break;
		case 'a':
			o->target.append = 1;
			break;
		case OPT_REPLACE:
			o->target.replace = 1;
			break;
		case 'n':
			o->limit = parse_count(arg, "--limit");
			break;
		case OPT_IMAGE_COL:
			o->target.image_column = arg;
			break;
		case OPT_LABEL_COL:
			o->target.label_column = arg;
			break;
		case OPT_SPLIT_COL:
			o->target.split_column = arg;
			break;
		case OPT_CLASS_COL:
			o->target.class_column = arg;
			break;
		case OPT_CHANNELS:
			if (strcmp(arg, "1") == 0 || strcmp(arg, "3") == 0)
				o->channels = arg[0] - '0';
			else
				fail_usage("--channels must be 1 (grey) or 3 (RGB)");
			break;
		case OPT_SIZE:
			parse_size(arg, o);
			break;
		case OPT_LABELS_FILE:
			o->labels_file = arg;
			break;
		case OPT_CLASSES:
			o->classes_file = arg;
			break;
		case OPT_CLASSES_FROM:
			o->classes_from = arg;
			break;
		case 'j':
			{
				long long	jobs = parse_count(arg, "--jobs");

				if (jobs > 256)
					fail_usage("--jobs must be at most 256");
				o->jobs = (int) jobs;
			}
			break;
		case OPT_DRY_RUN:
			o->dry_run = 1;
			break;
		case OPT_COMPRESSION:
			if (strcmp(arg, "lz4") != 0 && strcmp(arg, "pglz") != 0 && strcmp(arg, "none") != 0)
				fail_usage("--compression must be lz4, pglz or none");
			o->target.compression = arg;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(LOAD_EXIT_OK);
		case OPT_VERSION:
			printf("mlpscale-load %s\n", MLP_LOADER_VERSION);
			exit(LOAD_EXIT_OK);
		default:
			fprintf(stderr, "Try \"%s --help\" for more information.\n", progname);
			exit(LOAD_EXIT_USAGE);
	}
}

/* What the options mean together: the label file derived, and the combinations refused. */
static void
check_options(Options *o)
{
	if (o->labels && !o->images)
		fail_usage("--labels needs --images");
	if (o->images && !o->labels)
		o->labels = idx_labels_for(o->images);
	if (o->images && !o->labels)
		fail_usage("give --labels (it cannot be derived from the --images file name)");
	if (!o->target.table && !o->dry_run)
		fail_usage("--table is required (the table to create or append to)");
	if (o->target.append && o->target.replace)
		fail_usage("--append and --replace exclude each other");
	if (o->target.split && !*o->target.split)
		fail_usage("--split needs a name");
	if ((o->classes_file || o->classes_from) && !o->labels_file)
		fail_usage("--classes and --classes-from name the classes of a --labels-file");
	if (o->classes_file && o->classes_from)
		fail_usage("--classes and --classes-from exclude each other");
	if (o->jobs == 0)
	{
		long		cpus = sysconf(_SC_NPROCESSORS_ONLN);

		o->jobs = cpus < 1 ? 1 : cpus > 256 ? 256 : (int) cpus;
	}
}

static void
parse_options(int argc, char **argv, Options *o)
{
	int			c;

	memset(o, 0, sizeof(*o));
	o->limit = -1;
	o->fine_labels = 1;
	o->target.image_column = "image";
	o->target.label_column = "label";
	o->target.split_column = "split";
	o->target.class_column = "class_name";
	while ((c = getopt_long(argc, argv, "d:h:p:U:t:f:s:an:qj:", longopts, NULL)) != -1)
		apply_option(c, optarg, o);
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
	check_options(o);
}

/* What the rows read so far hold: for the summary. */
typedef struct LoadStats
{
	long long	rows;
	long long  *class_counts;	/* [max(256, nclasses)], grown for larger labels */
	int			max_label;
	int			shape[3];		/* of the first image */
	char		first_name[4096];	/* its file, or "" */
} LoadStats;

/*
 * Counts sample s (its shape and label).  -1 when there is no memory for its label; -2 with
 * err when its shape is not the first one's: a table of mixed shapes cannot be trained on.
 */
static int
count_sample(LoadStats *st, const LoadSample *s, int nclasses, char *err, size_t errlen)
{
	if (st->rows == 0)
	{
		st->shape[0] = s->channels;
		st->shape[1] = s->height;
		st->shape[2] = s->width;
		snprintf(st->first_name, sizeof(st->first_name), "%s", s->name ? s->name : "");
	}
	else if (s->channels != st->shape[0] || s->height != st->shape[1] || s->width != st->shape[2])
	{
		snprintf(err, errlen, "%.1500s%simage %lld is %dx%dx%d (channels x height x width), but the "
				 "first%s%.1500s%s is %dx%dx%d; training needs one shape: --channels 1|3 and "
				 "--size HxW convert every image to one", s->name ? s->name : "",
				 s->name ? ": " : "", st->rows + 1, s->channels, s->height, s->width,
				 st->first_name[0] ? " (" : "", st->first_name,
				 st->first_name[0] ? ")" : "", st->shape[0], st->shape[1], st->shape[2]);
		return -2;
	}
	if (s->label > st->max_label)
	{
		long long  *grown;

		if (s->label >= 256 && s->label >= nclasses)
		{
			grown = realloc(st->class_counts, (size_t) (s->label + 1) * sizeof(long long));
			if (!grown)
				return -1;
			memset(grown + st->max_label + 1, 0,
				   (size_t) (s->label - st->max_label) * sizeof(long long));
			st->class_counts = grown;
		}
		st->max_label = s->label;
	}
	st->class_counts[s->label]++;
	return 0;
}

static void
print_summary(const Options *o, const LoadSource *src, const LoadStats *st, double seconds)
{
	int			classes = 0;
	long long	rows = st->rows;

	for (int i = 0; i <= st->max_label; i++)
		classes += st->class_counts[i] > 0;
	printf("%s %lld rows, %d classes%s%s%s%s%s in %.2f s (%.0f rows/s)\n",
		   o->dry_run ? "checked" : "loaded", rows, classes,
		   o->dry_run ? "" : " into table ", o->dry_run ? "" : o->target.table,
		   o->target.split ? " (split " : "", o->target.split ? o->target.split : "",
		   o->target.split ? ")" : "", seconds, seconds > 0 ? (double) rows / seconds : 0.0);
	if (rows > 0)
		printf("  images %dx%dx%d (channels x height x width), labels 0 to %d\n",
			   st->shape[0], st->shape[1], st->shape[2], st->max_label);
	if (src->class_names && src->nclasses > 0)
	{
		int			shown = src->nclasses < 20 ? src->nclasses : 20;

		printf("  classes:");
		/* classes read from a table may leave labels without a name */
		for (int i = 0; i < shown; i++)
			if (src->class_names[i])
				printf(" %d=%s", i, src->class_names[i]);
		if (shown < src->nclasses)
			printf(" ... (%d in all)", src->nclasses);
		printf("\n");
	}
}

/* Opens the COPY into the target table over a libpq connection made from the options. */
static int
begin_copy(const Options *o, const LoadSource *src, CopyWriter *w, char *err, size_t errlen)
{
	const char *keywords[6];
	const char *values[6];

	connection_params(o, keywords, values);
	return copy_writer_begin(w, keywords, values, &o->target, src->class_names, src->nclasses,
							 err, errlen);
}

/*
 * Reads the samples (up to --limit), counts them and, unless a dry run, sends them to the
 * COPY.  0 at the end of the input, -1 with a message for an input error, -2 for a database
 * error.
 */
static int
copy_rows(const Options *o, LoadSource *src, CopyWriter *w, LoadStats *st,
		  LoadProgress *progress, char *err, size_t errlen)
{
	LoadSample	s = {0};
	int			rc = 0;

	while (o->limit < 0 || st->rows < o->limit)
	{
		rc = src->next(src, &s, err, errlen);
		if (rc <= 0)
			break;
		rc = count_sample(st, &s, src->nclasses, err, errlen);
		if (rc == -1)
			snprintf(err, errlen, "out of memory");
		if (rc != 0)
			return -1;
		if (!o->dry_run && copy_writer_row(w, &s, err, errlen) != 0)
			return -2;
		st->rows++;
		if ((st->rows & 255) == 0)
			progress_update(progress, st->rows);
	}
	return rc < 0 ? -1 : 0;
}

/*
 * Ends a load that failed: the message, the COPY aborted with abort_reason and rolled back
 * (said when note_rollback), the source closed; returns the exit code.
 */
static int
fail_load(const Options *o, LoadSource *src, CopyWriter *w, LoadStats *st,
		  const LoadProgress *progress, const char *msg, const char *abort_reason,
		  int note_rollback, int code)
{
	if (progress->drawn)
		fputc('\n', stderr);
	fprintf(stderr, "%s: %s\n", progname, msg);
	if (!o->dry_run)
	{
		copy_writer_abort(w, abort_reason);
		if (note_rollback)
			fprintf(stderr, "%s: nothing was loaded (the transaction was rolled back)\n",
					progname);
	}
	src->close(src);
	free(st->class_counts);
	return code;
}

int
main(int argc, char **argv)
{
	Options		o;
	LoadSource *src;
	CopyWriter	w;
	LoadProgress progress;
	LoadStats	st = {.max_label = -1};
	char		err[4096] = "";
	long long	total;
	int			rc;
	double		start = mlp_seconds_now();

	parse_options(argc, argv, &o);
	src = open_source(&o);
	if (src->note[0])
		fprintf(stderr, "%s: note: %s\n", progname, src->note);
	st.class_counts = calloc(256 > src->nclasses ? 256 : (size_t) src->nclasses,
							 sizeof(long long));
	if (!st.class_counts)
	{
		fprintf(stderr, "%s: out of memory\n", progname);
		return LOAD_EXIT_INPUT;
	}
	if (!o.dry_run && begin_copy(&o, src, &w, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s: %s\n", progname, err);
		copy_writer_abort(&w, NULL);
		src->close(src);
		return LOAD_EXIT_DATABASE;
	}

	total = src->total;
	if (o.limit >= 0 && (total < 0 || total > o.limit))
		total = o.limit;
	progress_init(&progress, !o.quiet, total);
	rc = copy_rows(&o, src, &w, &st, &progress, err, sizeof(err));
	if (rc < 0)
		return fail_load(&o, src, &w, &st, &progress, err, err, 1,
						 rc == -1 ? LOAD_EXIT_INPUT : LOAD_EXIT_DATABASE);
	if (st.rows == 0)
		return fail_load(&o, src, &w, &st, &progress, "the input holds no images", "no images",
						 0, LOAD_EXIT_INPUT);
	if (!o.dry_run)
	{
		long long	stored = copy_writer_commit(&w, err, sizeof(err));

		if (stored < 0)
			return fail_load(&o, src, &w, &st, &progress, err, NULL, 1, LOAD_EXIT_DATABASE);
		st.rows = stored;
	}
	progress_finish(&progress, st.rows);
	print_summary(&o, src, &st, mlp_seconds_now() - start);
	src->close(src);
	free(st.class_counts);
	return LOAD_EXIT_OK;
}

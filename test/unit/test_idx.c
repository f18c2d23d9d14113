/*
 * test_idx.c - the IDX reader of mlpscale-load and the benchmark: a valid pair, raw and
 * gzip, and every way a pair is refused, with the kind of the failure and its message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "file_read.h"
#include "idx.h"
#include "tap.h"

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

/* n images of r x c (pixel i of image k is k + i) and their labels k % 10 */
static void
make_pair(MlpIdxPair *p, uint32_t n, uint32_t r, uint32_t c)
{
	memset(p, 0, sizeof(*p));
	p->image_len = 16 + (size_t) n * r * c;
	p->label_len = 8 + (size_t) n;
	p->image_file = malloc(p->image_len);
	p->label_file = malloc(p->label_len);
	put_be32(p->image_file, MLP_IDX_IMAGES_MAGIC);
	put_be32(p->image_file + 4, n);
	put_be32(p->image_file + 8, r);
	put_be32(p->image_file + 12, c);
	for (size_t i = 16; i < p->image_len; i++)
		p->image_file[i] = (uint8_t) ((i - 16) / (r * c) + (i - 16) % (r * c));
	put_be32(p->label_file, MLP_IDX_LABELS_MAGIC);
	put_be32(p->label_file + 4, n);
	for (uint32_t k = 0; k < n; k++)
		p->label_file[8 + k] = (uint8_t) (k % 10);
}

/* The check of a pair spoilt by spoil, expected to fail with a message containing want. */
static void
refused(const char *what, void (*spoil) (MlpIdxPair *), const char *want)
{
	MlpIdxPair	p;
	MlpError	e;
	MlpStatus	st;

	make_pair(&p, 5, 4, 3);
	spoil(&p);
	st = mlp_idx_check(&p, "img", "lab", 4096, &e);
	ok(st == MLP_ERR_DATA_CORRUPTED && strstr(e.message, want) != NULL, "%s: %s", what,
	   e.message);
	mlp_idx_free(&p);
}

static void
cut_image_header(MlpIdxPair *p)
{
	p->image_len = 10;
}

static void
swap_files(MlpIdxPair *p)
{
	uint8_t    *t;
	size_t		n;

	/* long enough for an image header, so that the magic number is what is wrong */
	p->label_file = realloc(p->label_file, 32);
	p->label_len = 32;
	t = p->image_file;
	n = p->image_len;

	p->image_file = p->label_file;
	p->image_len = p->label_len;
	p->label_file = t;
	p->label_len = n;
}

static void
gzip_magic_in_labels(MlpIdxPair *p)
{
	p->label_file[0] = 0x1f;
	p->label_file[1] = 0x8b;
}

static void
fewer_labels(MlpIdxPair *p)
{
	put_be32(p->label_file + 4, 4);
	p->label_len--;
}

static void
cut_images(MlpIdxPair *p)
{
	p->image_len -= 7;
}

static void
extra_label_byte(MlpIdxPair *p)
{
	p->label_len++;
	p->label_file = realloc(p->label_file, p->label_len);
}

static void
zero_rows(MlpIdxPair *p)
{
	put_be32(p->image_file + 8, 0);
}

static void
write_file(const char *path, const uint8_t *data, size_t len, int gzip)
{
	if (gzip)
	{
		gzFile		gz = gzopen(path, "wb");

		gzwrite(gz, data, (unsigned) len);
		gzclose(gz);
	}
	else
	{
		FILE	   *f = fopen(path, "wb");

		fwrite(data, 1, len, f);
		fclose(f);
	}
}

static void
test_files(void)
{
	char		dir[] = "/tmp/test_idx_XXXXXX";
	char		images[256],
				labels[256],
				missing[256];
	MlpIdxPair	p,
				read;
	MlpError	e;

	if (mkdtemp(dir) == NULL)
	{
		ok(0, "a temporary directory");
		return;
	}
	snprintf(images, sizeof(images), "%s/x-images-idx3-ubyte.gz", dir);
	snprintf(labels, sizeof(labels), "%s/x-labels-idx1-ubyte", dir);
	snprintf(missing, sizeof(missing), "%s/missing-labels-idx1-ubyte", dir);
	make_pair(&p, 20, 7, 6);
	write_file(images, p.image_file, p.image_len, 1);
	write_file(labels, p.label_file, p.label_len, 0);

	ok(mlp_idx_read(images, labels, 4096, &read, &e) == MLP_OK, "gzip images, raw labels read");
	ok(read.count == 20 && read.rows == 7 && read.cols == 6 &&
	   memcmp(read.images, p.image_file + 16, 20 * 42) == 0 &&
	   memcmp(read.labels, p.label_file + 8, 20) == 0, "... every pixel and label as written");
	mlp_idx_free(&read);

	ok(mlp_idx_read(images, missing, 4096, &read, &e) == MLP_ERR_INVALID_ARGUMENT &&
	   strstr(e.message, "missing-labels-idx1-ubyte: No such file") != NULL,
	   "a missing label file is an invalid argument: %s", e.message);
	ok(read.image_file == NULL && read.label_file == NULL, "... and nothing is kept");
	ok(mlp_idx_read(dir, labels, 4096, &read, &e) == MLP_ERR_INVALID_ARGUMENT &&
	   strstr(e.message, "is a directory") != NULL, "a directory: %s", e.message);

	/* gzip data cut in the middle */
	{
		uint8_t    *gz;
		size_t		len;

		ok(mlp_read_file(images, &gz, &len, &e) == MLP_OK && len == p.image_len,
		   "mlp_read_file decompresses gzip");
		free(gz);
		{
			FILE	   *f = fopen(images, "rb");
			uint8_t		buf[4096];
			size_t		n = fread(buf, 1, sizeof(buf), f);

			fclose(f);
			write_file(images, buf, n / 2, 0);
		}
		ok(mlp_idx_read(images, labels, 4096, &read, &e) == MLP_ERR_DATA_CORRUPTED &&
		   strstr(e.message, "corrupt or truncated gzip data") != NULL,
		   "truncated gzip data is corrupted data: %s", e.message);
	}
	unlink(images);
	unlink(labels);
	rmdir(dir);
	mlp_idx_free(&p);
}

int
main(void)
{
	MlpIdxPair	p;
	MlpError	e;

	make_pair(&p, 5, 4, 3);
	ok(mlp_idx_check(&p, "img", "lab", 4096, &e) == MLP_OK, "a valid pair");
	ok(p.count == 5 && p.rows == 4 && p.cols == 3, "count and sides from the header");
	ok(p.images == p.image_file + 16 && p.labels == p.label_file + 8 && p.labels[3] == 3,
	   "images and labels after their headers");
	ok(mlp_idx_check(&p, "img", "lab", 3, &e) == MLP_ERR_DATA_CORRUPTED &&
	   strstr(e.message, "image size 4x3 is out of range (1 to 3)") != NULL,
	   "sides above the limit: %s", e.message);
	mlp_idx_free(&p);

	refused("an image header cut short", cut_image_header,
			"img: truncated IDX image file (10 bytes, the header alone is 16)");
	refused("labels given as images", swap_files,
			"wrong magic number 0x00000801 for an IDX image file, expected 0x00000803 (that is a label file)");
	refused("gzip inside gzip", gzip_magic_in_labels, "(gzip data inside gzip data?)");
	refused("counts that differ", fewer_labels, "img holds 5 images but lab holds 4 labels");
	refused("images cut short", cut_images,
			"img: truncated IDX image file: the header announces 5 images of 4x3 (76 bytes) but the file has 69");
	refused("a byte after the labels", extra_label_byte,
			"lab: trailing bytes: the header announces 5 labels (13 bytes) but the file has 14");
	refused("zero rows", zero_rows, "image size 0x3 is out of range");
	test_files();
	return tap_done();
}

/* test_subset.c - the class-balanced subset of train_size (subset.c) */
#include <inttypes.h>
#include <stdint.h>

#include "rng.h"
#include "subset.h"
#include "tap.h"

/* 1x4x4 images whose first 8 bytes are the row's id, so every image differs */
#define SIDE 4
#define IMAGE_BYTES (SIDE * SIDE)
#define N_ROWS 300

static void
make_rows(uint8_t *images, int32_t *labels, int64_t *ids)
{
	MlpRng		r;

	mlp_rng_seed(&r, 7, 0);
	for (int i = 0; i < N_ROWS; i++)
	{
		uint64_t	id = (uint64_t) i * 2654435761u + 17;

		for (int b = 0; b < 8; b++)
			images[i * IMAGE_BYTES + b] = (uint8_t) (id >> (8 * b));
		for (int b = 8; b < IMAGE_BYTES; b++)
			images[i * IMAGE_BYTES + b] = (uint8_t) mlp_rng_below(&r, 256);
		/* classes of 120, 120 and 60 rows, interleaved */
		labels[i] = i % 5 < 2 ? 0 : i % 5 < 4 ? 1 : 2;
		ids[i] = (int64_t) id;
	}
}

static int64_t
row_id(const uint8_t *image)
{
	uint64_t	id = 0;

	for (int b = 0; b < 8; b++)
		id |= (uint64_t) image[b] << (8 * b);
	return (int64_t) id;
}

static int
compare_i64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a,
				y = *(const int64_t *) b;

	return x < y ? -1 : x > y;
}

static void
count_classes(const int32_t *labels, int64_t n, int64_t counts[3])
{
	counts[0] = counts[1] = counts[2] = 0;
	for (int64_t i = 0; i < n; i++)
		counts[labels[i]]++;
}

/* the ids of the kept rows, sorted */
static void
kept_ids(const uint8_t *images, int64_t kept, int64_t *out)
{
	for (int64_t i = 0; i < kept; i++)
		out[i] = row_id(images + i * IMAGE_BYTES);
	qsort(out, (size_t) kept, sizeof(int64_t), compare_i64);
}

static void
test_key(void)
{
	const uint8_t px[4] = {0x00, 0xff, 0x10, 0xa0};
	const uint8_t px2[4] = {0x00, 0xff, 0x10, 0xa1};
	uint8_t		big[3 * 5 * 7];
	int64_t		k = mlp_image_subset_key(42, px, 1, 2, 2);

	/*
	 * The value mlp_subset_key('1x2x2:00ff10a0'::image, 42) returns in SQL
	 * (sql/30_training.sql): the core's key and the SQL function are one.
	 */
	ok(k == INT64_C(3809339420474763687), "the key of 1x2x2:00ff10a0 under seed 42 (%" PRId64 ")", k);
	ok(mlp_image_subset_key(42, px, 1, 2, 2) == k, "the key is a function of its arguments");
	ok(mlp_image_subset_key(43, px, 1, 2, 2) != k, "another seed gives another key");
	ok(mlp_image_subset_key(-42, px, 1, 2, 2) != k, "a negative seed too");
	ok(mlp_image_subset_key(42, px, 1, 4, 1) != k, "the same bytes in another shape give another key");
	ok(mlp_image_subset_key(42, px, 4, 1, 1) != mlp_image_subset_key(42, px, 1, 4, 1),
	   "... channels and height are not interchangeable");
	ok(mlp_image_subset_key(42, px2, 1, 2, 2) != k, "one pixel changed gives another key");
	for (int i = 0; i < (int) sizeof(big); i++)
		big[i] = (uint8_t) (i * 7);
	k = mlp_image_subset_key(1, big, 3, 5, 7);
	big[sizeof(big) - 1] ^= 1;
	ok(mlp_image_subset_key(1, big, 3, 5, 7) != k, "the last byte of a 105-byte image counts (the tail word)");
}

static void
test_take(void)
{
	static uint8_t images[N_ROWS * IMAGE_BYTES];
	static uint8_t shuffled[N_ROWS * IMAGE_BYTES];
	static uint8_t other[N_ROWS * IMAGE_BYTES];
	int32_t		labels[N_ROWS],
				shuffled_labels[N_ROWS],
				other_labels[N_ROWS];
	int64_t		ids[N_ROWS],
				order[N_ROWS],
				a[N_ROWS],
				b[N_ROWS];
	int64_t		counts[3];
	int64_t		kept = -1,
				kept2 = -1;
	MlpError	err;
	MlpRng		r;
	int			same = 1,
				in_order = 1,
				smallest_keys = 1;

	make_rows(images, labels, ids);
	count_classes(labels, N_ROWS, counts);
	ok(counts[0] == 120 && counts[1] == 120 && counts[2] == 60,
	   "the test data has classes of %" PRId64 ", %" PRId64 " and %" PRId64 " rows",
	   counts[0], counts[1], counts[2]);

	/* a shuffled copy, taken before the original is compacted */
	for (int i = 0; i < N_ROWS; i++)
		order[i] = i;
	mlp_rng_seed(&r, 99, 0);
	mlp_rng_shuffle(&r, order, N_ROWS);
	for (int i = 0; i < N_ROWS; i++)
	{
		memcpy(shuffled + i * IMAGE_BYTES, images + order[i] * IMAGE_BYTES, IMAGE_BYTES);
		shuffled_labels[i] = labels[order[i]];
	}
	memcpy(other, images, sizeof(images));
	memcpy(other_labels, labels, sizeof(labels));

	ok(mlp_subset_take(images, labels, N_ROWS, 1, SIDE, SIDE, 5, 50, 3, &kept, &err) == MLP_OK,
	   "50 of each of 3 classes");
	ok(kept == 150, "150 rows kept (%" PRId64 ")", kept);
	count_classes(labels, kept, counts);
	ok(counts[0] == 50 && counts[1] == 50 && counts[2] == 50,
	   "exactly 50 of each class (%" PRId64 ", %" PRId64 ", %" PRId64 ")",
	   counts[0], counts[1], counts[2]);
	for (int64_t i = 1; i < kept; i++)
	{
		int64_t		prev = -1,
					cur = -1;

		for (int j = 0; j < N_ROWS; j++)
		{
			if (ids[j] == row_id(images + (i - 1) * IMAGE_BYTES))
				prev = j;
			if (ids[j] == row_id(images + i * IMAGE_BYTES))
				cur = j;
		}
		in_order &= prev < cur;
	}
	ok(in_order, "the kept rows keep their original order");
	for (int64_t i = 0; i < kept; i++)
	{
		int64_t		key = mlp_image_subset_key(5, images + i * IMAGE_BYTES, 1, SIDE, SIDE);
		int			smaller = 0;

		/* fewer than 50 rows of its class in the whole source have a smaller key */
		for (int j = 0; j < N_ROWS; j++)
			if (other_labels[j] == labels[i] &&
				mlp_image_subset_key(5, other + j * IMAGE_BYTES, 1, SIDE, SIDE) < key)
				smaller++;
		smallest_keys &= smaller < 50;
	}
	ok(smallest_keys, "each kept row is among the 50 smallest keys of its class");

	ok(mlp_subset_take(shuffled, shuffled_labels, N_ROWS, 1, SIDE, SIDE, 5, 50, 3, &kept2,
					   &err) == MLP_OK && kept2 == 150, "the same subset of the shuffled rows");
	kept_ids(images, kept, a);
	kept_ids(shuffled, kept2, b);
	for (int i = 0; i < 150; i++)
		same &= a[i] == b[i];
	ok(same, "the same seed keeps the same rows whatever the row order");

	/* a smaller subset of the same seed is inside the larger one */
	{
		static uint8_t few[N_ROWS * IMAGE_BYTES];
		int32_t		few_labels[N_ROWS];
		int64_t		kept_few = -1;
		int			inside = 1;

		memcpy(few, other, sizeof(few));
		memcpy(few_labels, other_labels, sizeof(few_labels));
		ok(mlp_subset_take(few, few_labels, N_ROWS, 1, SIDE, SIDE, 5, 20, 3, &kept_few, &err) ==
		   MLP_OK && kept_few == 60, "20 of each class with the same seed");
		for (int i = 0; i < 60; i++)
		{
			int64_t		id = row_id(few + i * IMAGE_BYTES);

			inside &= bsearch(&id, a, 150, sizeof(int64_t), compare_i64) != NULL;
		}
		ok(inside, "... are among the 50 of each class: nested sizes keep nested rows");
	}

	ok(mlp_subset_take(other, other_labels, N_ROWS, 1, SIDE, SIDE, 6, 50, 0, &kept2, &err) ==
	   MLP_OK && kept2 == 150, "another seed (classes not checked)");
	kept_ids(other, kept2, b);
	same = 1;
	for (int i = 0; i < 150; i++)
		same &= a[i] == b[i];
	ok(!same, "another seed keeps other rows");
}

static void
test_errors(void)
{
	static uint8_t images[N_ROWS * IMAGE_BYTES];
	static uint8_t before[N_ROWS * IMAGE_BYTES];
	int32_t		labels[N_ROWS];
	int64_t		ids[N_ROWS];
	int64_t		kept = -1;
	MlpError	err;

	make_rows(images, labels, ids);
	memcpy(before, images, sizeof(images));
	ok(mlp_subset_take(images, labels, N_ROWS, 1, SIDE, SIDE, 5, 61, 3, &kept, &err) ==
	   MLP_ERR_INVALID_ARGUMENT, "61 of each class when class 2 has 60: invalid argument");
	ok(strcmp(err.message, "class 2 has 60 rows, fewer than the 61 of each class that the subset takes") == 0,
	   "... naming the smallest class: %s", err.message);
	ok(strstr(err.hint, "At most 60 rows") != NULL, "... with a hint of what is possible: %s", err.hint);
	ok(memcmp(images, before, sizeof(images)) == 0 && kept == 0, "... and nothing moved");
	ok(mlp_subset_take(images, labels, N_ROWS, 1, SIDE, SIDE, 5, 60, 3, &kept, &err) == MLP_OK &&
	   kept == 180, "60 of each class, all of the smallest, is possible");

	make_rows(images, labels, ids);
	ok(mlp_subset_take(images, labels, N_ROWS, 1, SIDE, SIDE, 5, 10, 4, &kept, &err) ==
	   MLP_ERR_INVALID_ARGUMENT &&
	   strcmp(err.message, "there are rows of 3 classes, not of the 4 the subset was sized for") == 0,
	   "a class that has gone: %s", err.message);
	ok(mlp_subset_take(images, labels, N_ROWS, 1, SIDE, SIDE, 5, 0, 3, &kept, &err) ==
	   MLP_ERR_INVALID_ARGUMENT, "0 rows per class: %s", err.message);
	ok(mlp_subset_take(images, labels, 0, 1, SIDE, SIDE, 5, 1, 0, &kept, &err) ==
	   MLP_ERR_INVALID_ARGUMENT, "no rows: %s", err.message);
	labels[7] = -1;
	ok(mlp_subset_take(images, labels, N_ROWS, 1, SIDE, SIDE, 5, 10, 0, &kept, &err) ==
	   MLP_ERR_INVALID_ARGUMENT && strstr(err.message, "row 8 has label -1") != NULL,
	   "a negative label: %s", err.message);
}

static void
test_ties(void)
{
	/* rows 0 and 2 are the same image; one row of the class is kept */
	uint8_t		images[3 * 4] = {1, 2, 3, 4, 9, 9, 9, 9, 1, 2, 3, 4};
	int32_t		labels[3] = {0, 0, 0};
	int64_t		kept;
	MlpError	err;
	int64_t		k_dup = mlp_image_subset_key(3, images, 1, 2, 2);
	int64_t		k_other = mlp_image_subset_key(3, images + 4, 1, 2, 2);

	ok(mlp_subset_take(images, labels, 3, 1, 2, 2, 3, 2, 1, &kept, &err) == MLP_OK && kept == 2,
	   "two of a class of three with a duplicate");
	if (k_dup < k_other)
		ok(memcmp(images, "\1\2\3\4\1\2\3\4", 8) == 0,
		   "equal keys: both copies are kept, in order");
	else
		ok(memcmp(images, "\1\2\3\4\11\11\11\11", 8) == 0,
		   "equal keys: the earlier copy is kept, then the other image");
}

static void
test_describe(void)
{
	int64_t		labels[25],
				counts[25];
	char		buf[MLP_SUBSET_DESCRIBE_LEN];
	char		small[24];

	labels[0] = 0;
	counts[0] = 120;
	labels[1] = 1;
	counts[1] = 80;
	labels[2] = 4;
	counts[2] = 1;
	mlp_subset_describe(labels, counts, 3, buf, sizeof(buf));
	ok(strcmp(buf, "class 0 has 120 rows, class 1 has 80 rows, class 4 has 1 row") == 0,
	   "three classes: %s", buf);
	for (int i = 0; i < 25; i++)
	{
		labels[i] = i;
		counts[i] = 100 + i;
	}
	counts[22] = 3;
	mlp_subset_describe(labels, counts, 25, buf, sizeof(buf));
	ok(strstr(buf, "class 19 has 119 rows and 5 more classes; the smallest, class 22, has 3 rows") != NULL &&
	   strstr(buf, "class 20 ") == NULL && strncmp(buf, "class 0 has 100 rows, class 1 has", 33) == 0,
	   "25 classes: the first 20, how many more, and the smallest: %s", buf);
	counts[22] = 122;
	counts[3] = 2;
	mlp_subset_describe(labels, counts, 25, buf, sizeof(buf));
	ok(strstr(buf, "; the smallest, class 3, has 2 rows") != NULL,
	   "the smallest is named also when it is listed");
	mlp_subset_describe(labels, counts, 25, small, sizeof(small));
	ok(strlen(small) == sizeof(small) - 1 && strncmp(small, "class 0 has 100 rows", 20) == 0,
	   "a short buffer is filled and terminated: %s", small);
	mlp_subset_describe(labels, counts, 0, buf, sizeof(buf));
	ok(buf[0] == '\0', "no classes: empty");
}

/* the selector fed in parts keeps the rows of mlp_subset_take, and each read filters anew */
static void
test_selector(void)
{
	static uint8_t images[N_ROWS * IMAGE_BYTES];
	static uint8_t taken[N_ROWS * IMAGE_BYTES];
	static uint8_t part[N_ROWS * IMAGE_BYTES];
	int32_t		labels[N_ROWS],
				taken_labels[N_ROWS],
				part_labels[N_ROWS];
	int64_t		ids[N_ROWS];
	int64_t		kept = -1,
				got = 0;
	int64_t		counts[3];
	MlpSubsetSelector sel;
	MlpError	err;
	int			same = 1;

	make_rows(images, labels, ids);
	memcpy(taken, images, sizeof(images));
	memcpy(taken_labels, labels, sizeof(labels));
	ok(mlp_subset_take(taken, taken_labels, N_ROWS, 1, SIDE, SIDE, 5, 50, 3, &kept, &err) ==
	   MLP_OK && kept == 150, "the subset in memory");

	mlp_subset_selector_init(&sel, 5, 50);
	for (int64_t i = 0; i < N_ROWS; i += 37)
	{
		int64_t		n = N_ROWS - i < 37 ? N_ROWS - i : 37;

		ok(mlp_subset_selector_add(&sel, images + i * IMAGE_BYTES, labels + i, n, 1, SIDE,
								   SIDE, &err) == MLP_OK, "survey of rows %" PRId64 "..", i);
	}
	ok(mlp_subset_selector_finish(&sel, 3, &err) == MLP_OK, "finished: 3 classes");
	for (int pass = 0; pass < 2; pass++)
	{
		mlp_subset_selector_rewind(&sel);
		got = 0;
		/* read in parts of 64, each part compacted into the buffer after the last */
		for (int64_t i = 0; i < N_ROWS; i += 64)
		{
			int64_t		n = N_ROWS - i < 64 ? N_ROWS - i : 64;

			memcpy(part + got * IMAGE_BYTES, images + i * IMAGE_BYTES, (size_t) n * IMAGE_BYTES);
			memcpy(part_labels + got, labels + i, (size_t) n * sizeof(int32_t));
			got += mlp_subset_selector_filter(&sel, part + got * IMAGE_BYTES, part_labels + got,
											  n, 1, SIDE, SIDE);
		}
		ok(got == 150, "read %d keeps 150 rows (%" PRId64 ")", pass + 1, got);
	}
	same = memcmp(part, taken, 150 * IMAGE_BYTES) == 0 &&
		memcmp(part_labels, taken_labels, 150 * sizeof(int32_t)) == 0;
	ok(same, "the rows of mlp_subset_take, in the same order");
	count_classes(part_labels, got, counts);
	ok(counts[0] == 50 && counts[1] == 50 && counts[2] == 50, "50 of each class");
	ok(mlp_subset_selector_memory(150) == 150 * sizeof(int64_t), "8 bytes a row of the subset");

	/* a row added after the survey under the threshold takes no more than per_class */
	mlp_subset_selector_rewind(&sel);
	got = mlp_subset_selector_filter(&sel, taken, taken_labels, 150, 1, SIDE, SIDE);
	memcpy(part, taken, IMAGE_BYTES);
	part_labels[0] = taken_labels[0];
	ok(mlp_subset_selector_filter(&sel, part, part_labels, 1, 1, SIDE, SIDE) == 0 && got == 150,
	   "a class full for this read takes no more rows");
	part_labels[0] = 7;
	mlp_subset_selector_rewind(&sel);
	ok(mlp_subset_selector_filter(&sel, part, part_labels, 1, 1, SIDE, SIDE) == 0,
	   "a label the survey did not see is left out");
	mlp_subset_selector_free(&sel);

	/* the errors of mlp_subset_take */
	mlp_subset_selector_init(&sel, 5, 61);
	ok(mlp_subset_selector_add(&sel, images, labels, N_ROWS, 1, SIDE, SIDE, &err) == MLP_OK &&
	   mlp_subset_selector_finish(&sel, 3, &err) == MLP_ERR_INVALID_ARGUMENT &&
	   strcmp(err.message, "class 2 has 60 rows, fewer than the 61 of each class that the subset takes") == 0 &&
	   strstr(err.hint, "At most 60 rows") != NULL, "61 of a class of 60: %s", err.message);
	mlp_subset_selector_free(&sel);
	mlp_subset_selector_init(&sel, 5, 10);
	ok(mlp_subset_selector_add(&sel, images, labels, N_ROWS, 1, SIDE, SIDE, &err) == MLP_OK &&
	   mlp_subset_selector_finish(&sel, 4, &err) == MLP_ERR_INVALID_ARGUMENT &&
	   strcmp(err.message, "there are rows of 3 classes, not of the 4 the subset was sized for") == 0,
	   "a class that has gone: %s", err.message);
	mlp_subset_selector_free(&sel);
	mlp_subset_selector_init(&sel, 5, 10);
	ok(mlp_subset_selector_finish(&sel, 0, &err) == MLP_ERR_INVALID_ARGUMENT &&
	   strstr(err.message, "no rows") != NULL, "no rows: %s", err.message);
	labels[3] = -2;
	ok(mlp_subset_selector_add(&sel, images, labels, N_ROWS, 1, SIDE, SIDE, &err) ==
	   MLP_ERR_INVALID_ARGUMENT && strstr(err.message, "label -2") != NULL,
	   "a negative label: %s", err.message);
	mlp_subset_selector_free(&sel);
	mlp_subset_selector_init(&sel, 5, 0);
	ok(mlp_subset_selector_add(&sel, images, labels, 1, 1, SIDE, SIDE, &err) ==
	   MLP_ERR_INVALID_ARGUMENT, "0 rows per class: %s", err.message);
	mlp_subset_selector_free(&sel);
}

/* duplicates at the threshold: the selector keeps as many copies as mlp_subset_take */
static void
test_selector_ties(void)
{
	/* class 0: images A, B, A, A; two kept */
	uint8_t		images[4 * 4] = {1, 2, 3, 4, 9, 9, 9, 9, 1, 2, 3, 4, 1, 2, 3, 4};
	uint8_t		copy[4 * 4];
	int32_t		labels[4] = {0, 0, 0, 0};
	int32_t		copy_labels[4] = {0, 0, 0, 0};
	int64_t		kept,
				got;
	MlpSubsetSelector sel;
	MlpError	err;

	memcpy(copy, images, sizeof(images));
	ok(mlp_subset_take(copy, copy_labels, 4, 1, 2, 2, 3, 2, 1, &kept, &err) == MLP_OK &&
	   kept == 2, "two of a class of four with three copies of one image");
	mlp_subset_selector_init(&sel, 3, 2);
	ok(mlp_subset_selector_add(&sel, images, labels, 4, 1, 2, 2, &err) == MLP_OK &&
	   mlp_subset_selector_finish(&sel, 1, &err) == MLP_OK, "the selector of the same");
	for (int pass = 0; pass < 2; pass++)
	{
		uint8_t		buf[16];
		int32_t		buf_labels[4] = {0, 0, 0, 0};

		memcpy(buf, images, sizeof(buf));
		mlp_subset_selector_rewind(&sel);
		got = mlp_subset_selector_filter(&sel, buf, buf_labels, 4, 1, 2, 2);
		ok(got == 2 && memcmp(buf, copy, 8) == 0, "read %d keeps the same two rows", pass + 1);
	}
	mlp_subset_selector_free(&sel);
}

int
main(void)
{
	test_key();
	test_take();
	test_errors();
	test_ties();
	test_describe();
	test_selector();
	test_selector_ties();
	return tap_done();
}

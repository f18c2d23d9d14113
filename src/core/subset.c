/*
 * subset.c - the class-balanced subset of train_size (see subset.h).
 */
#include "subset.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBSET_K1 UINT64_C(0x9e3779b97f4a7c15)
#define SUBSET_K2 UINT64_C(0xc2b2ae3d27d4eb4f)
#define SUBSET_SEED_SALT UINT64_C(0x5b2f1d6a3c9e8471)

static inline uint64_t
rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static inline uint64_t
avalanche(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* One word into the state: a bijection of h for a fixed w and of w for a fixed h. */
static inline uint64_t
mix_word(uint64_t h, uint64_t w)
{
	h ^= w * SUBSET_K2;
	return rotl64(h, 31) * SUBSET_K1;
}

/* Little-endian whatever the machine, so that a key is the same on every server. */
static inline uint64_t
load_le64(const uint8_t *p, size_t n)
{
	uint64_t	w = 0;

	for (size_t i = 0; i < n; i++)
		w |= (uint64_t) p[i] << (8 * i);
	return w;
}

int64_t
mlp_image_subset_key(int64_t seed, const uint8_t *pixels, int channels, int height, int width)
{
	size_t		nbytes = (size_t) channels * (size_t) height * (size_t) width;
	uint64_t	h = avalanche((uint64_t) seed ^ SUBSET_SEED_SALT);
	size_t		i = 0;

	/* the shape first: images of equal bytes but another shape are other images */
	h = mix_word(h, (uint64_t) (uint16_t) channels | (uint64_t) (uint16_t) height << 16 |
				 (uint64_t) (uint32_t) width << 32);
	for (; i + 8 <= nbytes; i += 8)
		h = mix_word(h, load_le64(pixels + i, 8));
	if (i < nbytes)
		h = mix_word(h, load_le64(pixels + i, nbytes - i));
	return (int64_t) avalanche(h ^ (uint64_t) nbytes);
}

typedef struct SubsetEntry
{
	int64_t		key;
	int64_t		pos;
	int32_t		label;
} SubsetEntry;

/* by label, then key (signed, as SQL orders bigint), then position */
static int
compare_entries(const void *pa, const void *pb)
{
	const SubsetEntry *a = pa;
	const SubsetEntry *b = pb;

	if (a->label != b->label)
		return a->label < b->label ? -1 : 1;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->pos != b->pos)
		return a->pos < b->pos ? -1 : 1;
	return 0;
}

static const char *
rows_word(int64_t n)
{
	return n == 1 ? "row" : "rows";
}

/*
 * The classes found (present of them, the smallest with smallest_count rows) against a
 * subset of per_class rows of each of classes (0: any number): the errors of both takes.
 */
static MlpStatus
check_classes(int present, int32_t smallest_label, int64_t smallest_count, int64_t per_class,
			  int classes, MlpError *err)
{
	if (present == 0)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
							 "there are no rows to take %" PRId64 " of each class from",
							 per_class);
	if (smallest_count < per_class)
	{
		mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
					  "class %d has %" PRId64 " %s, fewer than the %" PRId64
					  " of each class that the subset takes",
					  smallest_label, smallest_count, rows_word(smallest_count), per_class);
		mlp_error_hint(err, "At most %" PRId64 " rows of each class can be taken, as many as the smallest class has.",
					   smallest_count);
		return MLP_ERR_INVALID_ARGUMENT;
	}
	if (classes > 0 && present != classes)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
							 "there are rows of %d classes, not of the %d the subset was sized for",
							 present, classes);
	return MLP_OK;
}

MlpStatus
mlp_subset_take(uint8_t *images, int32_t *labels, int64_t n, int channels, int height,
				int width, int64_t seed, int64_t per_class, int classes, int64_t *kept,
				MlpError *err)
{
	size_t		image_bytes = (size_t) channels * (size_t) height * (size_t) width;
	SubsetEntry *entries;
	uint8_t    *keep;
	int			present = 0;
	int32_t		smallest_label = 0;
	int64_t		smallest_count = INT64_MAX;
	int64_t		j = 0;
	MlpStatus	status;

	*kept = 0;
	if (per_class < 1)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
							 "rows per class must be at least 1, not %" PRId64, per_class);
	for (int64_t i = 0; i < n; i++)
		if (labels[i] < 0)
			return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
								 "row %" PRId64 " has label %d: labels are classes from 0",
								 i + 1, labels[i]);

	entries = malloc((size_t) (n > 0 ? n : 1) * sizeof(SubsetEntry));
	if (entries == NULL)
		return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY,
							 "out of memory for the subset keys of %" PRId64 " rows", n);
	for (int64_t i = 0; i < n; i++)
	{
		entries[i].key = mlp_image_subset_key(seed, images + (size_t) i * image_bytes, channels,
										height, width);
		entries[i].pos = i;
		entries[i].label = labels[i];
	}
	qsort(entries, (size_t) n, sizeof(SubsetEntry), compare_entries);

	for (int64_t s = 0; s < n;)
	{
		int64_t		e = s;

		while (e < n && entries[e].label == entries[s].label)
			e++;
		present++;
		if (e - s < smallest_count)
		{
			smallest_count = e - s;
			smallest_label = entries[s].label;
		}
		s = e;
	}
	status = check_classes(present, smallest_label, smallest_count, per_class, classes, err);
	if (status != MLP_OK)
	{
		free(entries);
		return status;
	}

	keep = calloc((size_t) (n > 0 ? n : 1), 1);
	if (keep == NULL)
	{
		free(entries);
		return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY,
							 "out of memory for the subset of %" PRId64 " rows", n);
	}
	for (int64_t s = 0; s < n;)
	{
		int64_t		e = s;

		while (e < n && entries[e].label == entries[s].label)
			e++;
		for (int64_t i = s; i < s + per_class; i++)
			keep[entries[i].pos] = 1;
		s = e;
	}
	free(entries);

	/* in position order, so each row moves towards the front over rows already moved */
	for (int64_t i = 0; i < n; i++)
	{
		if (!keep[i])
			continue;
		if (i != j)
		{
			memmove(images + (size_t) j * image_bytes, images + (size_t) i * image_bytes,
					image_bytes);
			labels[j] = labels[i];
		}
		j++;
	}
	free(keep);
	*kept = j;
	return MLP_OK;
}

/* appends to buf at *used, keeping it terminated; stops quietly when full */
static void
append(char *buf, size_t len, size_t *used, const char *fmt, int64_t label, int64_t count)
{
	int			w;

	if (*used >= len)
		return;
	w = snprintf(buf + *used, len - *used, fmt, label, count, rows_word(count));
	if (w < 0)
		return;
	*used += (size_t) w < len - *used ? (size_t) w : len - *used - 1;
}

void
mlp_subset_describe(const int64_t *labels, const int64_t *counts, int k, char *buf,
					size_t len)
{
	size_t		used = 0;
	int			listed = k > MLP_SUBSET_LISTED_CLASSES ? MLP_SUBSET_LISTED_CLASSES : k;
	int			smallest = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (int i = 0; i < listed; i++)
		append(buf, len, &used, i == 0 ? "class %" PRId64 " has %" PRId64 " %s" :
			   ", class %" PRId64 " has %" PRId64 " %s", labels[i], counts[i]);
	if (k <= listed)
		return;
	for (int i = 1; i < k; i++)
		if (counts[i] < counts[smallest])
			smallest = i;
	if (used < len)
	{
		int			w = snprintf(buf + used, len - used, " and %d more classes", k - listed);

		if (w > 0)
			used += (size_t) w < len - used ? (size_t) w : len - used - 1;
	}
	append(buf, len, &used, "; the smallest, class %" PRId64 ", has %" PRId64 " %s",
		   labels[smallest], counts[smallest]);
}

/* ---- the subset of a stream --------------------------------------------------------------- */

void
mlp_subset_selector_init(MlpSubsetSelector *s, int64_t seed, int64_t per_class)
{
	memset(s, 0, sizeof(*s));
	s->seed = seed;
	s->per_class = per_class;
}

/* Slots for labels 0..label; false when out of memory. */
static bool
selector_grow(MlpSubsetSelector *s, int32_t label)
{
	int			n = s->nlabels;
	int			want = label + 1;
	int64_t   **heaps;
	int64_t    *seen;

	if (want <= n)
		return true;
	if (want < 2 * n)
		want = 2 * n;
	heaps = realloc(s->heaps, (size_t) want * sizeof(*heaps));
	if (heaps == NULL)
		return false;
	s->heaps = heaps;
	seen = realloc(s->seen, (size_t) want * sizeof(*seen));
	if (seen == NULL)
		return false;
	s->seen = seen;
	for (int i = n; i < want; i++)
	{
		s->heaps[i] = NULL;
		s->seen[i] = 0;
	}
	s->nlabels = want;
	return true;
}

/* h[0..n) a max-heap; restores it after h[i] got smaller */
static void
heap_sift_down(int64_t *h, int64_t n, int64_t i)
{
	for (;;)
	{
		int64_t		l = 2 * i + 1;
		int64_t		r = l + 1;
		int64_t		m = i;
		int64_t		t;

		if (l < n && h[l] > h[m])
			m = l;
		if (r < n && h[r] > h[m])
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void
heap_sift_up(int64_t *h, int64_t i)
{
	while (i > 0)
	{
		int64_t		p = (i - 1) / 2;
		int64_t		t;

		if (h[p] >= h[i])
			return;
		t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

MlpStatus
mlp_subset_selector_add(MlpSubsetSelector *s, const uint8_t *images, const int32_t *labels,
						int64_t n, int channels, int height, int width, MlpError *err)
{
	size_t		image_bytes = (size_t) channels * (size_t) height * (size_t) width;

	if (s->per_class < 1)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
							 "rows per class must be at least 1, not %" PRId64, s->per_class);
	for (int64_t i = 0; i < n; i++)
	{
		int32_t		label = labels[i];
		int64_t		key;
		int64_t    *h;
		int64_t		size;

		if (label < 0)
			return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
								 "a row has label %d: labels are classes from 0", label);
		if (!selector_grow(s, label) ||
			(s->heaps[label] == NULL &&
			 (s->heaps[label] = malloc((size_t) s->per_class * sizeof(int64_t))) == NULL))
			return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY,
								 "out of memory for the subset keys of %" PRId64 " rows of each class",
								 s->per_class);
		key = mlp_image_subset_key(s->seed, images + (size_t) i * image_bytes, channels,
								   height, width);
		h = s->heaps[label];
		size = s->seen[label] < s->per_class ? s->seen[label] : s->per_class;
		if (size < s->per_class)
		{
			h[size] = key;
			heap_sift_up(h, size);
		}
		else if (key < h[0])
		{
			h[0] = key;
			heap_sift_down(h, size, 0);
		}
		s->seen[label]++;
	}
	return MLP_OK;
}

MlpStatus
mlp_subset_selector_finish(MlpSubsetSelector *s, int classes, MlpError *err)
{
	int			present = 0;
	int32_t		smallest_label = 0;
	int64_t		smallest_count = INT64_MAX;
	int			n = s->nlabels > 0 ? s->nlabels : 1;
	MlpStatus	status;

	for (int l = 0; l < s->nlabels; l++)
	{
		if (s->seen[l] == 0)
			continue;
		present++;
		if (s->seen[l] < smallest_count)
		{
			smallest_count = s->seen[l];
			smallest_label = l;
		}
	}
	status = check_classes(present, smallest_label, smallest_count, s->per_class, classes, err);
	if (status != MLP_OK)
		return status;
	s->threshold = calloc((size_t) n, sizeof(int64_t));
	s->ties = calloc((size_t) n, sizeof(int64_t));
	s->ties_left = calloc((size_t) n, sizeof(int64_t));
	s->taken = calloc((size_t) n, sizeof(int64_t));
	if (!s->threshold || !s->ties || !s->ties_left || !s->taken)
		return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY, "out of memory for the subset");
	for (int l = 0; l < s->nlabels; l++)
	{
		const int64_t *h = s->heaps[l];

		if (s->seen[l] == 0)
			continue;
		/* the largest key kept, and how many of the kept are equal to it */
		s->threshold[l] = h[0];
		for (int64_t i = 0; i < s->per_class; i++)
			s->ties[l] += h[i] == h[0];
	}
	s->classes = present;
	s->finished = true;
	mlp_subset_selector_rewind(s);
	return MLP_OK;
}

void
mlp_subset_selector_rewind(MlpSubsetSelector *s)
{
	if (!s->finished)
		return;
	for (int l = 0; l < s->nlabels; l++)
	{
		s->ties_left[l] = s->ties[l];
		s->taken[l] = 0;
	}
}

int64_t
mlp_subset_selector_filter(MlpSubsetSelector *s, uint8_t *images, int32_t *labels, int64_t n,
						   int channels, int height, int width)
{
	size_t		image_bytes = (size_t) channels * (size_t) height * (size_t) width;
	int64_t		j = 0;

	for (int64_t i = 0; i < n; i++)
	{
		int32_t		label = labels[i];
		int64_t		key;
		bool		keep;

		if (label < 0 || label >= s->nlabels || s->seen[label] == 0 ||
			s->taken[label] >= s->per_class)
			continue;
		key = mlp_image_subset_key(s->seed, images + (size_t) i * image_bytes, channels,
								   height, width);
		keep = key < s->threshold[label];
		if (key == s->threshold[label] && s->ties_left[label] > 0)
		{
			s->ties_left[label]--;
			keep = true;
		}
		if (!keep)
			continue;
		s->taken[label]++;
		if (i != j)
		{
			memmove(images + (size_t) j * image_bytes, images + (size_t) i * image_bytes,
					image_bytes);
			labels[j] = labels[i];
		}
		j++;
	}
	return j;
}

size_t
mlp_subset_selector_memory(int64_t rows)
{
	return (size_t) rows * sizeof(int64_t);
}

void
mlp_subset_selector_free(MlpSubsetSelector *s)
{
	for (int l = 0; l < s->nlabels; l++)
		free(s->heaps[l]);
	free(s->heaps);
	free(s->seen);
	free(s->threshold);
	free(s->ties);
	free(s->ties_left);
	free(s->taken);
	memset(s, 0, sizeof(*s));
}

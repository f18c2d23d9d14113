/*
 * gemm_amx.c - bf16 products on AMX tiles.
 *
 * Why: an AMX unit's TDPBF16PS does 16 x 16 x 32 multiply-adds per instruction, about eight
 * times what VDPBF16PS does on both 512-bit pipes of a Sapphire Rapids core; the training
 * products are the step's time.
 *
 * Layout: the Goto/BLIS blocking of gemm_bf16.c with AMX shapes.  A K slice of op(B) is packed
 * by mlp_bf16_pack_b into the same 32-column panels of bf16 pairs along K (row p of a panel:
 * 32 words (B(2p, j), B(2p+1, j))), which is the layout of an AMX B tile: two tiles of 16
 * columns read a panel with a stride of 128 bytes.  A block of op(A) is packed row by row, 16
 * pairs along K in each 64-byte tile row.  Both are padded with zeros to whole tiles (32 rows,
 * 16 pairs), so every instruction runs on full tiles and one tile configuration serves all
 * shapes.  A 32 x 32 block of C is four accumulator tiles fed by two A and two B tiles; the
 * tiles are stored to a scratch block and added to C with alpha and beta, masked to the rows
 * and columns that exist.
 *
 * Trust: this kernel cannot run on a CPU without AMX, so before its first use the process
 * runs four products with every kind of tail and compares them with the naive reference; if
 * one disagrees, AMX stays off (with a line on stderr) and the AVX512_BF16 kernel runs.  The
 * unit tests run it on every machine that has AMX and count a skip elsewhere.
 *
 * The GCC 12 tile intrinsics are inline assembly without memory operands: the compiler is
 * told by barriers that tile loads read the packed buffers and tile stores write the scratch.
 * Built with MLP_AMX_EMULATE (test/unit/test_gemm_amx_emulated.c), the six tile instructions
 * are C loops written from Intel's definitions, so that the packing, blocking, tails, threads
 * and epilogue of this file are tested on every machine with AVX512_BF16.
 *
 * Plain C, no PostgreSQL headers.
 */
#include "gemm_amx.h"

#include "amx_tiles.h"
#include "rng.h"
#include "thread_pool.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__)
#define HAVE_AMX 1
#endif

#define KC_AMX 512				/* K per slice: 256 pairs, 16 tile steps */
#define MC_AMX (MLP_AMX_ROWS * 4)	/* rows per packed block of A (128 KB) */
#define NC_AMX 1024				/* columns per packed slice of B (1 MB) */
#define PAIRS_MAX (KC_AMX / 2)

static bool amx_ok;				/* hardware, OS and self-check */
static bool amx_on = true;

size_t
mlp_gemm_amx_thread_memory(void)
{
	return sizeof(uint32_t) * ((size_t) MC_AMX * PAIRS_MAX + (size_t) NC_AMX * PAIRS_MAX);
}

#ifdef HAVE_AMX

static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

#define TARGET_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define COMPILER_BARRIER() __asm__ volatile("" ::: "memory")

#ifdef MLP_AMX_EMULATE

/* The tile registers of the calling thread, as TILECFG palette 1 shapes them. */
static __thread uint8_t emu_tile[8][16][64];
static __thread uint8_t emu_rows[8];
static __thread uint16_t emu_colsb[8];

static void
emu_config(const void *cfg)
{
	const uint8_t *c = cfg;

	for (int t = 0; t < 8; t++)
	{
		emu_colsb[t] = (uint16_t) (c[16 + 2 * t] | c[17 + 2 * t] << 8);
		emu_rows[t] = c[48 + t];
	}
	memset(emu_tile, 0, sizeof(emu_tile));
}

static void
emu_load(int t, const void *base, long stride)
{
	memset(emu_tile[t], 0, sizeof(emu_tile[t]));
	for (int r = 0; r < emu_rows[t]; r++)
		memcpy(emu_tile[t][r], (const uint8_t *) base + r * stride, emu_colsb[t]);
}

static void
emu_store(int t, void *base, long stride)
{
	for (int r = 0; r < emu_rows[t]; r++)
		memcpy((uint8_t *) base + r * stride, emu_tile[t][r], emu_colsb[t]);
}

static float
emu_bf16(const uint8_t *row, int i)
{
	uint16_t	h;

	memcpy(&h, row + 2 * i, sizeof(h));
	return mlp_bf16_to_float(h);
}

/*
 * A unit that gets TDPBF16PS wrong (test_gemm_amx_selfcheck.c): it then drops the odd element
 * of each pair, as a CPU that disagreed with the definition might.
 */
static bool emu_faulty;

/* TDPBF16PS: c.fp32[m][n] += a.bf16[m][2k] b.bf16[k][2n] + a.bf16[m][2k+1] b.bf16[k][2n+1] */
static void
emu_dp(int c, int a, int b)
{
	for (int m = 0; m < emu_rows[c]; m++)
		for (int n = 0; n < emu_colsb[c] / 4; n++)
		{
			float		acc;

			memcpy(&acc, emu_tile[c][m] + 4 * n, sizeof(acc));
			for (int k = 0; k < emu_colsb[a] / 4; k++)
			{
				acc += emu_bf16(emu_tile[a][m], 2 * k) * emu_bf16(emu_tile[b][k], 2 * n);
				if (!emu_faulty)
					acc += emu_bf16(emu_tile[a][m], 2 * k + 1) * emu_bf16(emu_tile[b][k], 2 * n + 1);
			}
			memcpy(emu_tile[c][m] + 4 * n, &acc, sizeof(acc));
		}
}

#define TILE_CONFIG(cfg) emu_config(cfg)
#define TILE_RELEASE() memset(emu_tile, 0, sizeof(emu_tile))
#define TILE_ZERO(t) memset(emu_tile[t], 0, sizeof(emu_tile[t]))
#define TILE_LOAD(t, base, stride) emu_load(t, base, stride)
#define TILE_STORE(t, base, stride) emu_store(t, base, stride)
#define TILE_DP(c, a, b) emu_dp(c, a, b)

#else

#define TILE_CONFIG(cfg) _tile_loadconfig(cfg)
#define TILE_RELEASE() _tile_release()
#define TILE_ZERO(t) _tile_zero(t)
#define TILE_LOAD(t, base, stride) _tile_loadd(t, base, stride)
#define TILE_STORE(t, base, stride) _tile_stored(t, base, stride)
#define TILE_DP(c, a, b) _tile_dpbf16ps(c, a, b)

#endif

/* a: MC_AMX x PAIRS_MAX words, b: NC_AMX x PAIRS_MAX words */
typedef MlpPackBuffers AmxBuffers;

/* one per part, and one for the self-check */
static AmxBuffers amx_buffers[MLP_POOL_MAX_THREADS + 1];

static int
buffers_get(AmxBuffers *b)
{
	return mlp_pack_buffers_get(b, (size_t) MC_AMX * PAIRS_MAX, (size_t) NC_AMX * PAIRS_MAX);
}

int
mlp_gemm_amx_buffers(int part)
{
	if (part < 0 || part >= MLP_POOL_MAX_THREADS)
		return -1;
	return buffers_get(&amx_buffers[part]);
}

/*
 * Packs op(A)[i0 : i0+mc, k0 : k0+kc] as tile rows: row r at word r * kpp holds the pairs
 * (A(r, 2p), A(r, 2p+1)) for p < kpp.  Rows up to mc rounded to MLP_AMX_ROWS, pairs past the
 * slice and the odd K tail are zero.
 */
TARGET_AMX static void
pack_a_rows(const Gemm *g, int i0, int mc, int k0, int kc, int kpp, uint32_t *dst)
{
	int			rows = (mc + MLP_AMX_ROWS - 1) / MLP_AMX_ROWS * MLP_AMX_ROWS;

	if (!g->transA)
	{
		/* rows are contiguous along K: 32 floats give one tile row of 16 pairs */
		for (int r = 0; r < rows; r++)
		{
			const float *src = g->A + (size_t) (i0 + r) * g->lda + k0;
			uint32_t   *d = dst + (size_t) r * kpp;

			for (int p = 0; p < kpp; p += 16)
				_mm512_storeu_si512(d + p, r < mc ? row_words(src + 2 * p, kc - 2 * p)
									: _mm512_setzero_si512());
		}
		return;
	}

	/*
	 * A stored [K, M]: rows 2p and 2p+1 of the store give the pairs of 16 rows of op(A) at
	 * pair p; 16 pairs of them, transposed, are 16 tile rows.
	 */
	for (int r0 = 0; r0 < rows; r0 += 16)
	{
		__mmask16	m = lanes(mc - r0);

		for (int p0 = 0; p0 < kpp; p0 += 16)
		{
			__m512i		w[16];

			for (int q = 0; q < 16; q++)
			{
				int			k = 2 * (p0 + q);

				w[q] = _mm512_setzero_si512();
				if (k < kc)
				{
					const float *lo = g->A + (size_t) (k0 + k) * g->lda + i0 + r0;

					w[q] = pair_words(_mm512_maskz_loadu_ps(m, lo),
									  k + 1 < kc ? _mm512_maskz_loadu_ps(m, lo + g->lda)
									  : _mm512_setzero_ps());
				}
			}
			transpose16(w);
			for (int i = 0; i < 16; i++)
				_mm512_storeu_si512(dst + (size_t) (r0 + i) * kpp + p0, w[i]);
		}
	}
}

/*
 * acc[32][32] = the packed A rows (32 of them, kpp pairs each) times one packed B panel (kpp
 * rows of 32 words).  Tiles 0-3 accumulate, 4-5 hold A, 6-7 hold B.
 */
TARGET_AMX static void
tiles_32x32(const uint32_t *a, int kpp, const uint32_t *b, float *acc)
{
	long		sa = (long) kpp * 4;

	TILE_ZERO(0);
	TILE_ZERO(1);
	TILE_ZERO(2);
	TILE_ZERO(3);
	for (int p = 0; p < kpp; p += 16)
	{
		TILE_LOAD(4, a + p, sa);
		TILE_LOAD(5, a + (size_t) 16 * kpp + p, sa);
		TILE_LOAD(6, b + (size_t) p * NR, NR * 4);
		TILE_LOAD(7, b + (size_t) p * NR + 16, NR * 4);
		TILE_DP(0, 4, 6);
		TILE_DP(1, 4, 7);
		TILE_DP(2, 5, 6);
		TILE_DP(3, 5, 7);
	}
	TILE_STORE(0, acc, 32 * 4);
	TILE_STORE(1, acc + 16, 32 * 4);
	TILE_STORE(2, acc + 16 * 32, 32 * 4);
	TILE_STORE(3, acc + 16 * 32 + 16, 32 * 4);
	COMPILER_BARRIER();
}

/* C[mr, nr] = alpha * acc + beta * C (beta == 0 ignores C). */
TARGET_AMX static void
add_block(const float *acc, float *C, int ldc, int mr, int nr, float alpha, float beta)
{
	for (int i = 0; i < mr; i++)
		store_c_row(C + (size_t) i * ldc, _mm512_loadu_ps(acc + 32 * i),
					_mm512_loadu_ps(acc + 32 * i + 16), alpha, beta, nr);
}

TARGET_AMX static void
amx_part(const Gemm *g, int i0, int m, int j0, int n, AmxBuffers *pb)
{
	MlpTileConfig cfg;
	float		acc[32 * 32] __attribute__((aligned(64)));

	mlp_amx_config_full(&cfg);
	TILE_CONFIG(&cfg);

	for (int jc = j0; jc < j0 + n; jc += NC_AMX)
	{
		int			nc = j0 + n - jc < NC_AMX ? j0 + n - jc : NC_AMX;

		for (int pc = 0; pc < g->K; pc += KC_AMX)
		{
			int			kc = g->K - pc < KC_AMX ? g->K - pc : KC_AMX;
			int			kpp = ((kc + 1) / 2 + 15) / 16 * 16;
			float		beta = pc == 0 ? g->beta : 1.0f;
			bool		last = pc + kc >= g->K;

			mlp_bf16_pack_b(g, pc, kc, jc, nc, kpp, pb->b);
			for (int ic = i0; ic < i0 + m; ic += MC_AMX)
			{
				int			mc = i0 + m - ic < MC_AMX ? i0 + m - ic : MC_AMX;

				pack_a_rows(g, ic, mc, pc, kc, kpp, pb->a);
				COMPILER_BARRIER();
				for (int jr = 0; jr < nc; jr += NR)
					for (int ir = 0; ir < mc; ir += MLP_AMX_ROWS)
					{
						float	   *c = g->C + (size_t) (ic + ir) * g->ldc + jc + jr;
						int			mr = mc - ir < MLP_AMX_ROWS ? mc - ir : MLP_AMX_ROWS,
									nr = nc - jr < NR ? nc - jr : NR;

						tiles_32x32(pb->a + (size_t) ir * kpp, kpp, pb->b + (size_t) jr * kpp,
									acc);
						add_block(acc, c, g->ldc, mr, nr, g->alpha, beta);
						if (last && g->epi != NULL)
							g->epi(g->epi_arg, c, g->ldc, ic + ir, jc + jr, mr, nr);
					}
			}
		}
	}
	TILE_RELEASE();
}

void
mlp_gemm_amx_part(const Gemm *g, int i0, int m, int j0, int n, int part)
{
	amx_part(g, i0, m, j0, n, &amx_buffers[part]);
}

/* AMX (amx_tiles.h), and AVX512_BF16 for the packing. */
static bool
amx_hardware(void)
{
	if (!mlp_gemm_bf16_supported())
		return false;
#ifdef MLP_AMX_EMULATE
	return true;
#else
	return mlp_amx_request();
#endif
}

/*
 * One product with row, column, pair and K-slice tails, against the reference: the sums
 * differ from it only by float rounding (about 1e-5 here), a misplaced operand by O(1).
 */
static bool
self_check_one(bool ta, bool tb, MlpRng *rng)
{
	enum
	{
		M = 45, N = 50, K = 601
	};
	int			lda = ta ? M : K,
				ldb = tb ? K : N,
				ldc = N + 3;
	float	   *A = malloc(sizeof(float) * (size_t) (ta ? K : M) * lda),
			   *B = malloc(sizeof(float) * (size_t) (tb ? N : K) * ldb),
			   *C1 = malloc(sizeof(float) * (size_t) M * ldc),
			   *C2 = malloc(sizeof(float) * (size_t) M * ldc);
	bool		good = A && B && C1 && C2;

	if (good)
	{
		Gemm		g = {ta, tb, M, N, K, 0.5f, 0.25f, A, lda, B, ldb, C1, ldc, NULL, NULL, NULL};

		for (int i = 0; i < (ta ? K : M) * lda; i++)
			A[i] = (float) mlp_rng_uniform_range(rng, -1, 1);
		for (int i = 0; i < (tb ? N : K) * ldb; i++)
			B[i] = (float) mlp_rng_uniform_range(rng, -1, 1);
		for (int i = 0; i < M * ldc; i++)
			C1[i] = C2[i] = (float) mlp_rng_uniform_range(rng, -1, 1);
		amx_part(&g, 0, M, 0, N, &amx_buffers[MLP_POOL_MAX_THREADS]);
		mlp_gemm_bf16_reference(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, C2, ldc);
		for (int i = 0; i < M && good; i++)
			for (int j = 0; j < ldc; j++)
			{
				float		x = C1[(size_t) i * ldc + j],
							y = C2[(size_t) i * ldc + j];

				if (j >= N ? x != y : !(fabsf(x - y) <= 2e-3f + 1e-3f * fabsf(y)))
				{
					good = false;
					break;
				}
			}
	}
	free(A);
	free(B);
	free(C1);
	free(C2);
	return good;
}

static void
amx_probe(void)
{
	MlpRng		rng;

	if (!amx_hardware() || buffers_get(&amx_buffers[MLP_POOL_MAX_THREADS]) != 0)
		return;
	mlp_rng_seed(&rng, 2463534242u, 0);
	amx_ok = self_check_one(false, false, &rng) && self_check_one(false, true, &rng) &&
		self_check_one(true, false, &rng) && self_check_one(true, true, &rng);
	if (!amx_ok)
		fprintf(stderr, "mlpscale: the AMX bf16 product disagreed with its reference on this "
				"CPU; using the AVX512_BF16 kernel\n");
}

bool
mlp_gemm_amx_available(void)
{
	pthread_once(&amx_once, amx_probe);
	return amx_ok;
}

#else							/* !HAVE_AMX */

bool
mlp_gemm_amx_available(void)
{
	return amx_ok;
}

#ifdef HAVE_X86
int
mlp_gemm_amx_buffers(int part)
{
	(void) part;
	return -1;
}

void
mlp_gemm_amx_part(const Gemm *g, int i0, int m, int j0, int n, int part)
{
	(void) g;
	(void) i0;
	(void) m;
	(void) j0;
	(void) n;
	(void) part;
}
#endif

#endif							/* HAVE_AMX */

bool
mlp_gemm_amx_active(void)
{
	return amx_on && mlp_gemm_amx_available();
}

/* gemm_bf16.h's switch for tests and benchmarks, here beside the state it sets */
int
mlp_gemm_bf16_use_amx(bool on)
{
	if (on && !mlp_gemm_amx_available())
		return -1;
	amx_on = on;
	return 0;
}

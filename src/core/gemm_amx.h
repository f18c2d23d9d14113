/*
 * gemm_amx.h - the bf16 products on AMX tiles (Intel Sapphire Rapids and later), chosen at
 * run time by gemm_bf16.c where the CPU has AMX-BF16, the kernel lets the process use the
 * tile data, and a product checked against the reference on first use agrees.  Internal to
 * the bf16 products: callers go through mlp_gemm_bf16 (gemm_bf16.h).
 *
 * Plain C, no PostgreSQL headers.
 */
#ifndef MLP_GEMM_AMX_H
#define MLP_GEMM_AMX_H

#include <stdbool.h>
#include <stddef.h>

#include "gemm_bf16_internal.h"

/* Rows of C per block of tiles: the unit in which a product's parts split its rows. */
#define MLP_AMX_ROWS 32

/* AMX can run here, and its first product matched the reference (cached after one call). */
bool		mlp_gemm_amx_available(void);

/* Available and not turned off by mlp_gemm_bf16_use_amx(false) (gemm_bf16.h). */
bool		mlp_gemm_amx_active(void);

/* Bytes of packing buffers each thread holds once it has run an AMX product. */
size_t		mlp_gemm_amx_thread_memory(void);

#ifdef HAVE_X86
/* The packing buffers of part `part` (< MLP_POOL_MAX_THREADS); 0, or -1 out of memory. */
int			mlp_gemm_amx_buffers(int part);

/*
 * C[i0 : i0+m, j0 : j0+n] of the product g (whose op(B) is not pre-packed) on the calling
 * thread, with part's buffers, calling g->epi on each finished 32 x 32 block.  Each element
 * is summed in the same order whatever the split.
 */
void		mlp_gemm_amx_part(const Gemm *g, int i0, int m, int j0, int n, int part);
#endif

#endif

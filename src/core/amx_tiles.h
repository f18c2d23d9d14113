/*
 * amx_tiles.h - what every user of the AMX tiles needs: whether this CPU and OS let the
 * process use them (asking Linux for the tile data on the way), and the one tile
 * configuration mlpscale uses, eight tiles of 16 rows x 64 bytes.  Shared by the AMX kernel
 * (gemm_amx.c) and the peak benchmark (bench/peak.c).
 *
 * Plain C, no PostgreSQL headers; x86-64 Linux only (elsewhere AMX is never available).
 */
#ifndef MLP_AMX_TILES_H
#define MLP_AMX_TILES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MLP_ARCH_REQ_XCOMP_PERM 0x1023
#define MLP_XFEATURE_XTILEDATA 18

/*
 * CPUID's AMX-TILE and AMX-BF16, the OS's tile state in XCR0 (XTILECFG, XTILEDATA), and the
 * permission Linux 5.16+ gives a process that asks for the tile data (process-wide).
 */
static inline bool
mlp_amx_request(void)
{
	unsigned	a,
				b,
				c,
				d,
				lo,
				hi;

	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 27)))		/* OSXSAVE */
		return false;
	__cpuid_count(7, 0, a, b, c, d);
	if (!(d & (1u << 22)) || !(d & (1u << 24)))
		return false;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	(void) hi;
	if ((lo & (3u << 17)) != (3u << 17))
		return false;
	return syscall(SYS_arch_prctl, MLP_ARCH_REQ_XCOMP_PERM, MLP_XFEATURE_XTILEDATA) == 0;
}
#else
static inline bool
mlp_amx_request(void)
{
	return false;
}
#endif

/* The 64-byte operand of LDTILECFG, palette 1. */
typedef struct MlpTileConfig
{
	uint8_t		palette;
	uint8_t		start_row;
	uint8_t		reserved[14];
	uint16_t	colsb[16];
	uint8_t		rows[16];
} __attribute__((aligned(64))) MlpTileConfig;

/* Tiles 0-7 of 16 rows x 64 bytes: 16 x 16 floats, or 16 x 32 bf16. */
static inline void
mlp_amx_config_full(MlpTileConfig *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->palette = 1;
	for (int t = 0; t < 8; t++)
	{
		cfg->colsb[t] = 64;
		cfg->rows[t] = 16;
	}
}

#endif

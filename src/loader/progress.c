/*
 * progress.c - the loader's progress display on stderr.
 *
 * A terminal gets a bar redrawn in place at most ten times a second; a log file or pipe gets
 * a plain line every five seconds, so logs stay readable.
 */
#include "loader.h"

#include <stdio.h>
#include <unistd.h>

#include "core/clock.h"

#define BAR_WIDTH 32

void
progress_init(LoadProgress *p, int enabled, long long total)
{
	p->enabled = enabled;
	p->tty = isatty(STDERR_FILENO);
	p->total = total;
	p->start = mlp_seconds_now();
	p->last_draw = p->start;
	p->drawn = 0;
}

static void
progress_draw(LoadProgress *p, long long done, double now)
{
	double		elapsed = now - p->start;
	double		rate = elapsed > 0 ? (double) done / elapsed : 0.0;

	if (p->tty)
	{
		if (p->total > 0)
		{
			int			filled = (int) ((double) BAR_WIDTH * (double) done / (double) p->total);
			char		bar[BAR_WIDTH + 1];
			int			i;

			if (filled > BAR_WIDTH)
				filled = BAR_WIDTH;
			for (i = 0; i < BAR_WIDTH; i++)
				bar[i] = i < filled ? '#' : '.';
			bar[BAR_WIDTH] = '\0';
			fprintf(stderr, "\r[%s] %3d%%  %lld/%lld rows  %.0f rows/s ", bar,
					(int) (100.0 * (double) done / (double) p->total), done, p->total, rate);
		}
		else
			fprintf(stderr, "\r%lld rows  %.0f rows/s ", done, rate);
		p->drawn = 1;
	}
	else if (p->total > 0)
		fprintf(stderr, "loaded %lld of %lld rows (%d%%), %.0f rows/s\n", done, p->total,
				(int) (100.0 * (double) done / (double) p->total), rate);
	else
		fprintf(stderr, "loaded %lld rows, %.0f rows/s\n", done, rate);
	fflush(stderr);
}

void
progress_update(LoadProgress *p, long long done)
{
	double		now;

	if (!p->enabled)
		return;
	now = mlp_seconds_now();
	if (now - p->last_draw < (p->tty ? 0.1 : 5.0))
		return;
	p->last_draw = now;
	progress_draw(p, done, now);
}

void
progress_finish(LoadProgress *p, long long done)
{
	if (!p->enabled)
		return;
	if (p->tty)
	{
		progress_draw(p, done, mlp_seconds_now());
		fputc('\n', stderr);
	}
	p->drawn = 0;
}

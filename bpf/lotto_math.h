/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lotto_math.h — the lottery arithmetic, shared verbatim by lotto.bpf.c, the
 * sim backend, lotto-bench and the unit tests. Integer only (BPF has no
 * floats); every function is pure.
 *
 * The draw is an exponential race. A task holding t tickets that enters the
 * race at virtual time V gets the key
 *
 *     key = V + E * f / t,      E ~ Exp(1),  f = compensation factor
 *
 * and the runnable task with the smallest key wins. For independent
 * exponentials with rates t_i, P(i is the minimum) = t_i / sum(t): an exact
 * lottery. After a win V becomes the winner's key; the keys still waiting
 * exceed V, and by memorylessness (key - V) is again Exp(t_j / f_j), so every
 * later pop is again an exact lottery among whoever is runnable then —
 * without ever redrawing the waiting tasks. Popping the minimum of a
 * vtime-ordered queue costs O(log n).
 *
 * E = -ln(U) is computed in fixed point: U = (r + 1) / 2^32 from a 32-bit
 * random r, -ln U = (32 - log2(r + 1)) * ln 2, and the fraction of log2 comes
 * from 16 steps of repeated squaring (max error ~3/65536 of a unit).
 *
 * Keys are compared as signed differences (like the kernel's DSQ rb-tree
 * does with time_before64), so V may wrap around 2^64.
 */
#ifndef LOTTO_MATH_H
#define LOTTO_MATH_H

#ifndef __bpf__
#include <linux/types.h>
#define LOTTO_INLINE static inline
#else
#define LOTTO_INLINE static __always_inline
#endif

#define LOTTO_Q16		16
#define LOTTO_ONE_Q16		(1u << LOTTO_Q16)
#define LOTTO_LN2_Q32		2977044472ull	/* ln 2 * 2^32 */
#define LOTTO_KEY_SHIFT		12	/* extra key resolution for large ticket counts */

/* compensation factor f in Q10: 1024 = the whole slice was used */
#define LOTTO_COMP_ONE		1024u
#define LOTTO_COMP_MIN		1u	/* f >= 1/1024: tickets / f <= 1024 x tickets */
#define LOTTO_COMP_MAX		8192u	/* f <= 8 */

/* -ln((r + 1) / 2^32) in Q16. 0 <= result <= 22.18 * 65536. */
LOTTO_INLINE __u32 lotto_neg_ln_q16(__u32 r)
{
	__u64 x = (__u64)r + 1;	/* 1 .. 2^32 */
	__u32 msb = 0;
	__u64 m;			/* mantissa in Q31: [2^31, 2^32) */
	__u32 frac = 0;		/* fraction of log2(x) in Q16 */
	__u64 log2_q16, neg_log2_q16;
	int i;

	if (x >> 32)
		return 0;	/* U == 1 */
	if (x >> 16) { msb += 16; }
	if (x >> (msb + 8)) { msb += 8; }
	if (x >> (msb + 4)) { msb += 4; }
	if (x >> (msb + 2)) { msb += 2; }
	if (x >> (msb + 1)) { msb += 1; }
	m = (x << 31) >> msb;
	for (i = 0; i < 16; i++) {
		m = (m * m) >> 31;	/* < 2^33 * 2^33 >> 31: fits */
		frac <<= 1;
		if (m >= (2ull << 31)) {
			m >>= 1;
			frac |= 1;
		}
	}
	log2_q16 = ((__u64)msb << 16) | frac;
	neg_log2_q16 = (32ull << 16) - log2_q16;
	return (__u32)((neg_log2_q16 * LOTTO_LN2_Q32) >> 32);
}

/* tickets as they take part in a draw: out-of-range values never reach the math */
LOTTO_INLINE __u32 lotto_clamp_tickets(__u64 t)
{
	if (t < LOTTO_TICKETS_MIN)
		return LOTTO_TICKETS_MIN;
	if (t > LOTTO_TICKETS_MAX)
		return LOTTO_TICKETS_MAX;
	return (__u32)t;
}

LOTTO_INLINE int lotto_tickets_valid(__u64 t)
{
	return t >= LOTTO_TICKETS_MIN && t <= LOTTO_TICKETS_MAX;
}

/*
 * Waldspurger's compensation: a task that used `used_ns` of a `slice_ns`
 * slice competes next time as if it held tickets / f, f = used / slice,
 * charged below 1 (it blocked early) and above 1 (tick granularity let it
 * overrun), clamped to [LOTTO_COMP_MIN, LOTTO_COMP_MAX] / 1024.
 */
LOTTO_INLINE __u32 lotto_comp_q10(__u64 used_ns, __u64 slice_ns)
{
	__u64 f;

	if (!slice_ns)
		return LOTTO_COMP_ONE;
	if (used_ns > (slice_ns << 4))
		return LOTTO_COMP_MAX;
	f = (used_ns * LOTTO_COMP_ONE) / slice_ns;
	if (f < LOTTO_COMP_MIN)
		return LOTTO_COMP_MIN;
	if (f > LOTTO_COMP_MAX)
		return LOTTO_COMP_MAX;
	return (__u32)f;
}

/* key increment for a task entering the race: E * f / tickets, scaled */
LOTTO_INLINE __u64 lotto_key_delta(__u32 r, __u32 tickets, __u32 comp_q10)
{
	__u64 e = lotto_neg_ln_q16(r);
	__u32 t = lotto_clamp_tickets(tickets);

	/* e < 2^21, comp < 2^14, << 12: < 2^47 */
	return ((e * comp_q10) << LOTTO_KEY_SHIFT) / t;
}

/* a is before b, wrap-safe */
LOTTO_INLINE int lotto_key_before(__u64 a, __u64 b)
{
	return (__s64)(a - b) < 0;
}

/*
 * What is left of a waiting key's race above its group's clock V (keys drawn
 * as V + delta). With several groups, each with its own V, a draw compares
 * residuals, not keys: by memorylessness each residual is again Exp(t/f), so
 * the smallest is an exact lottery across the groups. A clock that already
 * passed the key (two CPUs drawing at the same moment can do that) gives 0:
 * the task is overdue and wins the next draw it takes part in, and a winner's
 * residual never moves a clock backwards.
 */
LOTTO_INLINE __u64 lotto_residual(__u64 key, __u64 v)
{
	__s64 d = (__s64)(key - v);

	return d < 0 ? 0 : (__u64)d;
}

/* ---- host-side helpers (tests, sim, REPL `draw`): a seeded PRNG ---- */
struct lotto_rng {
	__u64 s;
};

/* splitmix64: good enough for simulation, tiny, and reproducible per seed */
LOTTO_INLINE __u32 lotto_rng_next(struct lotto_rng *g)
{
	__u64 z = (g->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (__u32)((z ^ (z >> 31)) >> 32);
}

#endif /* LOTTO_MATH_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lotto_limits.h — every range a value lotto takes must lie in, in one place:
 * the BPF core, lotto-host (options, the control protocol, the ticket book,
 * the state file), lotto-shell (parsing, help text) and, through `ctx`, the
 * Lua policies read them from here. Included by lotto_abi.h.
 *
 * Plain C macros of literals, so that C, C++, BPF and the shell's help
 * strings (LOTTO_STR) can all use them. Resource bounds of lotto-host (client
 * connections, file sizes, queues: what keeps the host safe, not what a value
 * means) are in host/core/limits.h.
 */
#ifndef LOTTO_LIMITS_H
#define LOTTO_LIMITS_H

#define LOTTO_STR_(x)		#x
#define LOTTO_STR(x)		LOTTO_STR_(x)	/* LOTTO_STR(LOTTO_TICKETS_MAX) is "1000000" */

/* tickets of one task: a pin, a policy's value, the default */
#define LOTTO_TICKETS_MIN	1
#define LOTTO_TICKETS_MAX	1000000
#define LOTTO_TICKETS_DEFAULT	100
#define LOTTO_TICKETS_RANGE	LOTTO_STR(LOTTO_TICKETS_MIN) ".." LOTTO_STR(LOTTO_TICKETS_MAX)

/* a group's funding (lotto_group_ctl.funding: a policy group's, or one set
 * over a cgroup's cpu.weight); the same units as tickets, 0 meaning "none" */
#define LOTTO_FUNDING_MIN	1
#define LOTTO_FUNDING_MAX	1000000
#define LOTTO_FUNDING_RANGE	LOTTO_STR(LOTTO_FUNDING_MIN) ".." LOTTO_STR(LOTTO_FUNDING_MAX)
/* the gids user space may hand out (lotto_abi.h: LOTTO_POLICY_GROUP_BASE ..
 * LOTTO_MAX_GROUPS - 1) */
#define LOTTO_POLICY_GID_MIN	512
#define LOTTO_POLICY_GID_MAX	1023
#define LOTTO_POLICY_GID_RANGE	LOTTO_STR(LOTTO_POLICY_GID_MIN) ".." LOTTO_STR(LOTTO_POLICY_GID_MAX)
/* a policy group's name (policy API, shell, state file) */
#define LOTTO_GROUP_NAME_MAX	64

/* a boost (`boost PID xF for D`): the factor, and how long it may last */
#define LOTTO_BOOST_MIN		0.01
#define LOTTO_BOOST_MAX		1000
#define LOTTO_BOOST_RANGE	LOTTO_STR(LOTTO_BOOST_MIN) ".." LOTTO_STR(LOTTO_BOOST_MAX)
#define LOTTO_BOOST_DAYS_MAX	365
#define LOTTO_BOOST_MS_MAX	(LOTTO_BOOST_DAYS_MAX * 24ULL * 3600 * 1000)
#ifndef __bpf__
/* NaN and infinities fail */
static inline int lotto_boost_valid(double factor)
{
	return factor >= LOTTO_BOOST_MIN && factor <= LOTTO_BOOST_MAX;
}
#endif

/* a policy's tick interval and time budget (its table's interval_ms, budget_ms) */
#define LOTTO_INTERVAL_MS_MIN	10
#define LOTTO_INTERVAL_MS_MAX	3600000
#define LOTTO_BUDGET_MS_MIN	1
#define LOTTO_BUDGET_MS_MAX	1000	/* any tick, init or `lua` evaluation */

/* scheduling settings (lotto-host options, struct lotto_config) */
#define LOTTO_SLICE_US_DEFAULT	20000	/* 20 ms: the longest quantum */
#define LOTTO_SLICE_US_MIN	100
#define LOTTO_SLICE_US_MAX	1000000
/* quanta shrink with load: latency / (tasks waiting per CPU + 1), >= min_run */
#define LOTTO_LATENCY_US_DEFAULT 10000
#define LOTTO_MIN_RUN_US_DEFAULT 500	/* also the least a wake-up lets a task run */
#define LOTTO_HANDOFF_US_DEFAULT 0	/* a woken task's wait for its waker's CPU: off */
#define LOTTO_HANDOFF_US_MAX	10000
/* compensation charges use against the longest quantum, within [1/1024, 8] of
 * it (lotto_math.h): the shortest quantum must be at least 1/1024 of it */
#define LOTTO_SLICE_RANGE	1024
#define LOTTO_STARVE_MS_DEFAULT	5000	/* kernel watchdog ejects at 30 s */
#define LOTTO_STARVE_MS_MIN	10
#define LOTTO_STARVE_MS_MAX	20000

#endif /* LOTTO_LIMITS_H */

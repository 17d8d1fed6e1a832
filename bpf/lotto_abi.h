/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lotto_abi.h — the one contract between lotto.bpf.c and everything in user
 * space (lotto-host, its sim backend, lotto-bench, the tests).
 *
 * Plain C, no kernel-only types: it is compiled by clang -target bpf (after
 * vmlinux.h) and by g++ (after <linux/types.h>). Every struct here is laid out
 * identically on both sides; the _Static_asserts keep it so.
 *
 * Maps (names are part of the ABI; the host finds them by name):
 *   lotto_tasks  ARRAY[LOTTO_MAX_TASKS] of struct lotto_task_stat, mmap-able.
 *                Slot i describes one lotto task; written only by BPF.
 *   lotto_ctl    ARRAY[LOTTO_MAX_TASKS] of struct lotto_ctl, mmap-able.
 *                Written only by user space: "slot i, if it still holds
 *                thread `pid`, should run with `tickets`". BPF reads it at
 *                every draw the task takes part in.
 *   lotto_stats  PERCPU_ARRAY[1] of __u64[LOTTO_STAT_NR]; the host sums CPUs.
 *   lotto_groups ARRAY[LOTTO_MAX_GROUPS] of struct lotto_group_stat, mmap-able,
 *                written only by BPF: each group (currency) and what it got.
 *   lotto_group_ctl  ARRAY[LOTTO_MAX_GROUPS] of struct lotto_group_ctl,
 *                mmap-able, written only by user space: a group's funding.
 *   lotto_task_groups  ARRAY[LOTTO_MAX_TASKS] of struct lotto_task_group,
 *                mmap-able, written only by user space: "slot i, if it still
 *                holds thread `pid`, belongs to group `group`" (else its
 *                cgroup's group).
 * Globals in .bss: lotto_slots_hw (slots in use are all below it) and
 * lotto_exit (why the kernel stopped the scheduler).
 */
#ifndef LOTTO_ABI_H
#define LOTTO_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#ifdef __cplusplus
#define LOTTO_STATIC_ASSERT static_assert
#else
#define LOTTO_STATIC_ASSERT _Static_assert
#endif

#define LOTTO_ABI_VERSION	2
#define LOTTO_OPS_NAME		"lotto"

#define LOTTO_MAX_TASKS		131072	/* slots: lotto tasks alive at once */
#define LOTTO_COMM_LEN		16

#include "lotto_limits.h"	/* tickets, boost, scheduling settings: their ranges */

#define LOTTO_DSQ		0x10770	/* tasks that may run on more than one CPU */
#define LOTTO_DSQ_PIN_BASE	0x20000	/* + c: tasks pinned to CPU c alone */

/*
 * Groups (currencies, Waldspurger & Weihl section 4). Group 0 is the root:
 * its tasks compete with their own tickets, as if there were no groups. Any
 * other group competes as one with its funding (in the same units as
 * tickets), and its tasks among themselves with their tickets: a two-level
 * lottery. Groups 1 .. LOTTO_CGROUP_GROUPS - 1 are cgroups (the core assigns
 * them, funded by cpu.weight); the rest are policy groups (user space
 * assigns them, funded through lotto_group_ctl).
 */
#define LOTTO_MAX_GROUPS	1024
#define LOTTO_CGROUP_GROUPS	512
#define LOTTO_POLICY_GROUP_BASE	LOTTO_CGROUP_GROUPS
#define LOTTO_FUNDING_DEFAULT	100	/* cgroup v2's default cpu.weight */
LOTTO_STATIC_ASSERT(LOTTO_POLICY_GID_MIN == LOTTO_POLICY_GROUP_BASE && LOTTO_POLICY_GID_MAX == LOTTO_MAX_GROUPS - 1,
		    "lotto_limits.h's policy gids");
LOTTO_STATIC_ASSERT(LOTTO_FUNDING_MIN == LOTTO_TICKETS_MIN && LOTTO_FUNDING_MAX == LOTTO_TICKETS_MAX,
		    "the core takes funding in the tickets' range (lotto_tickets_valid)");
#define LOTTO_PIN_GROUPS	16	/* groups with tasks pinned to one CPU, per CPU */
#define LOTTO_DSQ_GROUP_BASE	0x40000	/* + gid: shared tasks of group gid */
#define LOTTO_DSQ_PGROUP_BASE	0x80000	/* + cpu * LOTTO_PIN_GROUPS + slot: pinned tasks of a group */

/* how a wake-up makes a busy CPU draw early (lotto_config.preempt) */
enum lotto_preempt_mode {
	LOTTO_PREEMPT_OFF,	/* it does not: the woken task waits for a quantum's end */
	LOTTO_PREEMPT_TICK,	/* end the quantum at that CPU's next tick (no IPI) */
	LOTTO_PREEMPT_KICK,	/* end it now: an IPI (SCX_KICK_PREEMPT) */
};
#define LOTTO_PREEMPT_DEFAULT	LOTTO_PREEMPT_KICK

/* Load-time settings: the BPF program's `const volatile struct lotto_config
 * lotto_cfg` in .rodata, set by the host between open and load. */
struct lotto_config {
	__u32 default_tickets;	/* tasks without a lotto_ctl entry */
	__u32 slice_us;		/* longest quantum; compensation's reference */
	__u32 starve_ms;	/* starvation guard bound */
	__u32 compensation;	/* 1: compensation tickets on */
	__u32 latency_us;	/* quanta shrink with load towards this round time */
	__u32 min_run_us;	/* shortest quantum; least run before a wake-up draw */
	__u32 preempt;		/* enum lotto_preempt_mode */
	__u32 catchup;		/* 1: running tasks are credited the wins they missed */
	__u32 handoff_us;	/* a woken task waits this long for its waker's CPU before an idle one is woken */
	__u32 flags;		/* LOTTO_CFG_* */
};

#define LOTTO_CFG_CGROUPS	1u	/* cgroups are groups (else every task is in the root) */
#define LOTTO_CFG_TRANSFERS	2u	/* a woken task runs on its blocked waker's tickets too */

enum lotto_group_kind {
	LOTTO_GROUP_FREE,
	LOTTO_GROUP_ROOT,
	LOTTO_GROUP_CGROUP,
	LOTTO_GROUP_POLICY,
};

/* One slot of lotto_groups, written by BPF. */
struct lotto_group_stat {
	__u64 cgroup_id;	/* a cgroup group's cgroup; 0 otherwise */
	__u32 kind;		/* enum lotto_group_kind */
	__u32 funding;		/* in force at its last draw */
	__u32 weight;		/* a cgroup's cpu.weight */
	__u32 gen;		/* bumped each time the slot gets a new cgroup */
	__u64 runtime_ns;	/* CPU time of its tasks under lotto */
	__u64 wins;		/* draws won by the group */
};

/* One slot of lotto_group_ctl, written by user space. */
struct lotto_group_ctl {
	__u32 funding;		/* 0: none (a cgroup group is funded by its cpu.weight) */
	__u32 flags;		/* LOTTO_GROUP_F_* */
};

#define LOTTO_GROUP_F_TRANSFERS_IN	1u	/* accepts transfers from other groups' tasks */
#define LOTTO_GROUP_F_TRANSFERS		2u	/* its tasks get transfers even without --transfers */
#define LOTTO_GROUP_F_ALL		3u

/* One slot of lotto_task_groups, written by user space; one 64-bit store. */
struct lotto_task_group {
	__u32 pid;		/* 0 or a stale pid: the task's cgroup decides */
	__u32 group;		/* a policy group's gid */
};

/* One slot of lotto_tasks. pid == 0 means the slot is free. */
struct lotto_task_stat {
	__u32 pid;		/* thread id */
	__u32 tgid;		/* process id */
	__u32 gen;		/* bumped each time the slot gets a new task */
	__s32 nice;
	__u32 uid;
	__u32 tickets;		/* tickets in force at the task's last draw */
	__u32 last_cpu;
	__u32 comp_q10;		/* compensation factor f at the last draw, 1024 = 1.0 */
	__u64 cgroup_id;
	__u64 runtime_ns;	/* cumulative CPU time under lotto */
	__u64 wins;		/* times picked to run */
	__u64 wait_ns;		/* cumulative runnable -> running wait */
	__u64 wait_max_ns;
	__u64 waits;		/* number of waits summed in wait_ns */
	__u64 rescues;		/* times the starvation guard ran it */
	__u32 group;		/* its group (0: the root) at its last draw */
	__u32 funded_by;	/* pid of the blocked waker whose tickets it runs on (transfers), 0: none */
	__u32 funded_tickets;	/* the tickets that waker adds */
	__u32 pad;
	char comm[LOTTO_COMM_LEN];
};

/* One slot of lotto_ctl. Written as a single 64-bit store by the host and
 * read as a single 64-bit load, so that the pid and its tickets agree: the
 * word is lotto_ctl_pack(pid, tickets). */
struct lotto_ctl {
	__u32 pid;		/* 0 or a stale pid: use the default tickets */
	__u32 tickets;
};

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "lotto_ctl_pack assumes a little-endian machine (pid in the low half)"
#endif
static inline __u64 lotto_ctl_pack(__u32 pid, __u32 tickets)
{
	return (__u64)tickets << 32 | pid;
}
static inline __u32 lotto_ctl_pid(__u64 word)
{
	return (__u32)word;
}
static inline __u32 lotto_ctl_tickets(__u64 word)
{
	return (__u32)(word >> 32);
}
/* lotto_task_groups words: the same {pid, value} packing */
static inline __u64 lotto_task_group_pack(__u32 pid, __u32 gid)
{
	return lotto_ctl_pack(pid, gid);
}
static inline __u32 lotto_task_group_gid(__u64 word)
{
	return lotto_ctl_tickets(word);
}

/* The global counters: X(ID, "name", "what it counts"). One list makes the
 * enum here and every table of names on the host side. */
#define LOTTO_STATS(X) \
	X(DRAWS, "draws", "decisions made by a draw") \
	X(ENQUEUES, "enqueues", "tasks queued to wait for a draw") \
	X(DISPATCHES, "dispatches", "waiting tasks moved to a CPU") \
	X(PREV_WINS, "prev_wins", "draws won by the task whose quantum ended") \
	X(DIRECT, "direct", "wake-ups onto an idle CPU, no draw needed") \
	X(RESCUES, "rescues", "starvation guard overrode the draw") \
	X(NO_SLOT, "no_slot", "tasks without a stats slot (table full)") \
	X(ALONE, "alone", "quanta renewed without a draw: nothing else may run there") \
	X(CATCHUP, "catchup", "wins credited to a task that was running meanwhile") \
	X(CREDIT_RUNS, "credit_runs", "quanta run on such a credit, no draw") \
	X(WAKE_PREEMPTS, "wake_preempts", "wake-ups that ended a running quantum early") \
	X(WAKE_SHRINKS, "wake_shrinks", "wake-ups that cut a quantum to the minimum run") \
	X(TIMER_ENDS, "timer_ends", "quanta ended by lotto's timer rather than the tick") \
	X(HANDOFFS, "handoffs", "wake-ups queued on the waker's CPU first (--handoff-us)") \
	X(HANDOFF_KICKS, "handoff_kicks", "idle CPUs woken for a task its waker's CPU had not taken") \
	X(AFFINE, "affine", "wake-ups that found no idle CPU, queued on the waker's CPU") \
	X(NO_GROUP, "no_group", "cgroups left in the root (no gid free), or draws of a group's pinned task in its CPU's root (pinned group slots full)") \
	X(TRANSFERS, "transfers", "draws made with blocked wakers' tickets added") \
	X(XFER_REDRAWS, "xfer_redraws", "waiting tasks redrawn when their waker went to sleep") \
	X(XFER_WAKES, "xfer_wakes", "wake-ups recorded for transfers (who woke whom)") \
	X(GROUP_REJOINS, "group_rejoins", "groups the starvation guard put back in the draw: a task of theirs waited while they were out")

enum lotto_stat_idx {
#define LOTTO_STAT_ENUM(id, name, help) LOTTO_STAT_##id,
	LOTTO_STATS(LOTTO_STAT_ENUM)
#undef LOTTO_STAT_ENUM
	LOTTO_STAT_NR,
};

#ifndef __bpf__
/* the counters' names and meanings, in enum order (user space) */
#define LOTTO_STAT_NAME(id, name, help) name,
static const char *const lotto_stat_names[LOTTO_STAT_NR] = { LOTTO_STATS(LOTTO_STAT_NAME) };
#undef LOTTO_STAT_NAME
#define LOTTO_STAT_HELP(id, name, help) help,
static const char *const lotto_stat_help[LOTTO_STAT_NR] = { LOTTO_STATS(LOTTO_STAT_HELP) };
#undef LOTTO_STAT_HELP
#endif

#define LOTTO_EXIT_REASON_LEN	128
#define LOTTO_EXIT_MSG_LEN	1024

/* Filled by lotto_exit(); kind != 0 once the kernel has stopped lotto. */
struct lotto_exit_info {
	__s32 kind;		/* enum scx_exit_kind */
	__u32 pad;
	__s64 exit_code;
	char reason[LOTTO_EXIT_REASON_LEN];
	char msg[LOTTO_EXIT_MSG_LEN];
};

LOTTO_STATIC_ASSERT(sizeof(struct lotto_task_stat) == 120, "lotto_task_stat layout");
LOTTO_STATIC_ASSERT(sizeof(struct lotto_ctl) == 8, "lotto_ctl layout");
LOTTO_STATIC_ASSERT(sizeof(struct lotto_config) == 40, "lotto_config layout");
LOTTO_STATIC_ASSERT(sizeof(struct lotto_group_stat) == 40, "lotto_group_stat layout");
LOTTO_STATIC_ASSERT(sizeof(struct lotto_group_ctl) == 8, "lotto_group_ctl layout");
LOTTO_STATIC_ASSERT(sizeof(struct lotto_task_group) == 8, "lotto_task_group layout");
LOTTO_STATIC_ASSERT(sizeof(struct lotto_exit_info) == 16 + LOTTO_EXIT_REASON_LEN + LOTTO_EXIT_MSG_LEN,
	       "lotto_exit_info layout");

#endif /* LOTTO_ABI_H */

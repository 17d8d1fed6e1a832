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

#define LOTTO_ABI_VERSION	1
#define LOTTO_OPS_NAME		"lotto"

#define LOTTO_MAX_TASKS		131072	/* slots: lotto tasks alive at once */
#define LOTTO_COMM_LEN		16

#define LOTTO_TICKETS_MIN	1
#define LOTTO_TICKETS_MAX	1000000
#define LOTTO_TICKETS_DEFAULT	100

#define LOTTO_SLICE_US_DEFAULT	20000	/* 20 ms */
#define LOTTO_SLICE_US_MIN	100
#define LOTTO_SLICE_US_MAX	1000000
#define LOTTO_STARVE_MS_DEFAULT	5000	/* kernel watchdog ejects at 30 s */
#define LOTTO_STARVE_MS_MIN	10
#define LOTTO_STARVE_MS_MAX	20000

#define LOTTO_DSQ		0x10770	/* tasks that may run on more than one CPU */
#define LOTTO_DSQ_PIN_BASE	0x20000	/* + c: tasks pinned to CPU c alone */

/* Load-time settings: the BPF program's `const volatile struct lotto_config
 * lotto_cfg` in .rodata, set by the host between open and load. */
struct lotto_config {
	__u32 default_tickets;	/* tasks without a lotto_ctl entry */
	__u32 slice_us;
	__u32 starve_ms;	/* starvation guard bound */
	__u32 compensation;	/* 1: compensation tickets on */
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
	char comm[LOTTO_COMM_LEN];
};

/* One slot of lotto_ctl. Written as a single 64-bit store by the host. */
struct lotto_ctl {
	__u32 pid;		/* 0 or a stale pid: use the default tickets */
	__u32 tickets;
};

enum lotto_stat_idx {
	LOTTO_STAT_DRAWS,	/* dispatch decisions made by a draw */
	LOTTO_STAT_ENQUEUES,
	LOTTO_STAT_DISPATCHES,	/* tasks moved to a CPU from the lottery DSQ */
	LOTTO_STAT_PREV_WINS,	/* the task whose slice ended won again */
	LOTTO_STAT_DIRECT,	/* woke onto an idle CPU, no contest */
	LOTTO_STAT_RESCUES,	/* starvation guard overrode the draw */
	LOTTO_STAT_NO_SLOT,	/* tasks without a stats slot (table full) */
	LOTTO_STAT_NR,
};

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

LOTTO_STATIC_ASSERT(sizeof(struct lotto_task_stat) == 104, "lotto_task_stat layout");
LOTTO_STATIC_ASSERT(sizeof(struct lotto_ctl) == 8, "lotto_ctl layout");
LOTTO_STATIC_ASSERT(sizeof(struct lotto_config) == 16, "lotto_config layout");
LOTTO_STATIC_ASSERT(sizeof(struct lotto_exit_info) == 16 + LOTTO_EXIT_REASON_LEN + LOTTO_EXIT_MSG_LEN,
	       "lotto_exit_info layout");

#endif /* LOTTO_ABI_H */

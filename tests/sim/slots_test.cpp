// The task table: shared memory, lowest free slot, pid 0 when free, gen
// bumped on reuse, slots_hw covering every slot in use, stats as the BPF
// core writes them.
#include "sim_test_util.h"

#include <sys/wait.h>
#include <unistd.h>

using namespace lotto;
using namespace lotto::sim;
using namespace lotto::sim::test;

TEST_CASE("a task's slot holds its identity and statistics", "[slots][stats]")
{
	auto m = machine("cpus 2\n"
			 "task name=a-very-long-name-indeed nice=-3 uid=1234 cgroup=/user.slice/u cpu=100%\n"
			 "task name=web threads=3 run=1ms sleep=4ms cgroup=/system.slice\n",
			 fixed_quanta());	// no wake-up draws: one win per burst
	m->run_for(5 * kSec);
	CHECK(m->slots_hw() == 4);
	const lotto_task_stat &a = m->tasks()[*m->slot_of(kFirstPid)];
	CHECK(a.pid == kFirstPid);
	CHECK(a.tgid == kFirstPid);
	CHECK(std::string(a.comm) == "a-very-long-nam");
	CHECK(a.nice == -3);
	CHECK(a.uid == 1234);
	CHECK(m->cgroup_path(a.cgroup_id) == "/user.slice/u");
	CHECK(a.gen == 1);
	CHECK(a.tickets == LOTTO_TICKETS_DEFAULT);
	CHECK(a.runtime_ns == m->thread(kFirstPid)->runtime_ns);
	CHECK(a.runtime_ns > 4 * kSec);

	for (uint32_t pid : m->pids_named("web")) {
		const lotto_task_stat &w = m->tasks()[*m->slot_of(pid)];
		CHECK(w.tgid == kFirstPid + 1);
		CHECK(m->cgroup_path(w.cgroup_id) == "/system.slice");
		CHECK(w.wins == w.waits);
		CHECK(w.wins > 900);
		// 1 ms bursts never reach the slice end: one win per burst
		CHECK(w.runtime_ns <= w.wins * kMs);
		CHECK(w.runtime_ns >= (w.wins - 1) * kMs);
	}
}

TEST_CASE("an exiting task's slot is cleared and the next task reuses it with gen bumped", "[slots]")
{
	auto m = machine("cpus 1\ntask name=first cpu=100% stop=1s\ntask name=keeper cpu=100%\n"
			 "task name=second cpu=100% start=2s\n");
	uint32_t first = kFirstPid, second = kFirstPid + 2;
	uint32_t slot = *m->slot_of(first);
	CHECK(slot == 0);
	CHECK(m->slots_hw() == 2);
	m->set_tickets(first, 777);

	m->run_for(1500 * kMs);
	CHECK(m->tasks()[slot].pid == 0);
	CHECK(m->tasks()[slot].runtime_ns == 0);
	CHECK(m->tasks()[slot].gen == 1);
	CHECK(m->thread(first)->state == ThreadState::Exited);
	CHECK_FALSE(m->slot_of(first));
	CHECK(m->nr_alive() == 1);

	m->run_for(1 * kSec);
	REQUIRE(m->slot_of(second) == slot);
	CHECK(m->tasks()[slot].pid == second);
	CHECK(m->tasks()[slot].gen == 2);
	// the old ctl entry named the old thread: the new one gets the default
	CHECK(m->tasks()[slot].tickets == LOTTO_TICKETS_DEFAULT);
}

TEST_CASE("slots_hw drops when the highest slots are freed", "[slots]")
{
	auto m = machine("cpus 2\ntask name=stay cpu=100%\ntask name=go cpu=100% count=3 stop=1s\n");
	CHECK(m->slots_hw() == 4);
	m->run_for(2 * kSec);
	CHECK(m->slots_hw() == 1);
	for (uint32_t s = 1; s < 4; s++)
		CHECK(m->tasks()[s].pid == 0);
}

TEST_CASE("a forked process sees the task table change live", "[slots]")
{
	auto m = machine("cpus 1\ntask name=a cpu=100%\n");
	uint32_t slot = *m->slot_of(kFirstPid);
	int go[2], back[2];
	REQUIRE(pipe(go) == 0);
	REQUIRE(pipe(back) == 0);
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		uint64_t seen = __atomic_load_n(&m->tasks()[slot].runtime_ns, __ATOMIC_RELAXED);
		_exit(write(back[1], &seen, sizeof(seen)) == sizeof(seen) ? 0 : 3);
	}
	m->run_for(3 * kSec);
	REQUIRE(write(go[1], "x", 1) == 1);
	uint64_t seen = 0;
	REQUIRE(read(back[0], &seen, sizeof(seen)) == sizeof(seen));
	int status = 0;
	waitpid(child, &status, 0);
	CHECK(WEXITSTATUS(status) == 0);
	CHECK(seen == 3 * kSec);
	for (int fd : {go[0], go[1], back[0], back[1]})
		close(fd);
}

TEST_CASE("threads beyond the table's capacity run without a slot and are counted", "[slots]")
{
	auto m = machine("cpus 2\ntask name=many cpu=100% count=" + std::to_string(LOTTO_MAX_TASKS + 5) + "\n");
	CHECK(m->slots_hw() == LOTTO_MAX_TASKS);
	CHECK(m->stats().total[LOTTO_STAT_NO_SLOT] == 5);
	uint32_t last = kFirstPid + LOTTO_MAX_TASKS + 4;
	CHECK_FALSE(m->slot_of(last));
	CHECK(m->thread(last)->state == ThreadState::Waiting);
}

TEST_CASE("pids are unique from 10000 and threads of one process share its tgid", "[slots]")
{
	auto m = machine("cpus 1\ntask name=p count=2 threads=3 cpu=100%\ntask name=q cpu=100%\n");
	auto pids = m->pids();
	REQUIRE(pids.size() == 7);
	for (size_t i = 0; i < pids.size(); i++)
		CHECK(pids[i] == kFirstPid + i);
	CHECK(m->thread(kFirstPid + 2)->tgid == kFirstPid);
	CHECK(m->thread(kFirstPid + 3)->tgid == kFirstPid + 3);
	CHECK(m->thread(kFirstPid + 5)->tgid == kFirstPid + 3);
	CHECK(m->thread(kFirstPid + 6)->tgid == kFirstPid + 6);
}

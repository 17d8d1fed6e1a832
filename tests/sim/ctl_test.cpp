// Tickets come from lotto_ctl exactly as the BPF core reads them: at every
// draw, only when the entry names the slot's thread and is valid.
#include "sim_test_util.h"

#include <catch2/generators/catch_generators.hpp>
#include <cstring>

using namespace lotto;
using namespace lotto::sim;
using namespace lotto::sim::test;

TEST_CASE("a ctl change takes effect at the task's next draw", "[ctl]")
{
	BackendConfig cfg;
	cfg.slice_us = 1000;
	auto m = machine("cpus 1\ntask name=a cpu=100%\ntask name=b cpu=100%\n", cfg);
	m->run_for(10 * kSec);
	uint32_t a = kFirstPid, b = kFirstPid + 1;
	uint32_t sa = *m->slot_of(a);
	CHECK(m->tasks()[sa].tickets == 100);

	REQUIRE(m->set_tickets(a, 900));
	CHECK(m->tasks()[sa].tickets == 100);	// nothing drawn yet
	// a waiting task keeps the key it drew; a draws again when its own
	// slice ends (1 ms slices, all aligned on 1 ms): step until it has
	bool was_running = false;
	for (int i = 0; i < 1000 && m->tasks()[sa].tickets != 900; i++) {
		was_running = m->thread(a)->state == ThreadState::Running;
		m->run_for(1 * kMs);
	}
	CHECK(m->tasks()[sa].tickets == 900);
	CHECK(was_running);	// the first slice end of a after the write

	uint64_t ra = runtime(*m, a), rb = runtime(*m, b);
	auto draws0 = m->stats().total[LOTTO_STAT_DRAWS];
	m->run_for(120 * kSec);
	double draws = double(m->stats().total[LOTTO_STAT_DRAWS] - draws0);
	double share = double(runtime(*m, a) - ra) / double(runtime(*m, a) - ra + runtime(*m, b) - rb);
	INFO("share after 9:1 " << share);
	CHECK(std::abs(share - 0.9) <= band(0.9, draws));
}

TEST_CASE("a ctl entry for another pid or with invalid tickets is ignored", "[ctl]")
{
	BackendConfig cfg;
	cfg.slice_us = 1000;
	cfg.default_tickets = 250;
	auto m = machine("cpus 1\ntask name=a cpu=100%\ntask name=b cpu=100%\n", cfg);
	uint32_t a = kFirstPid, b = kFirstPid + 1;
	uint32_t sa = *m->slot_of(a), sb = *m->slot_of(b);
	// a stale entry: a thread that used the slot before
	m->ctl()[sa] = lotto_ctl{a + 999, 100000};
	// invalid tickets for the right thread
	uint32_t bad = GENERATE(0u, 1000001u, 4000000000u);
	m->ctl()[sb] = lotto_ctl{b, bad};
	m->run_for(60 * kSec);
	CHECK(m->tasks()[sa].tickets == 250);
	CHECK(m->tasks()[sb].tickets == 250);
	double draws = double(m->stats().total[LOTTO_STAT_DRAWS]);
	double share = double(runtime(*m, a)) / double(60 * kSec);
	CHECK(std::abs(share - 0.5) <= band(0.5, draws));
}

TEST_CASE("tickets= in the workload is written to ctl when the task starts", "[ctl][workload]")
{
	auto m = machine("cpus 1\ntask name=a cpu=100% tickets=42 start=1s\n");
	CHECK_FALSE(m->slot_of(kFirstPid));
	m->run_for(1 * kSec);
	auto slot = m->slot_of(kFirstPid);
	REQUIRE(slot);
	CHECK(m->ctl()[*slot].pid == kFirstPid);
	CHECK(m->ctl()[*slot].tickets == 42);
	CHECK(m->tasks()[*slot].tickets == 42);
	CHECK_FALSE(m->set_tickets(kFirstPid + 1, 5));	// no such thread
}

TEST_CASE("a ctl entry is one word, lotto_ctl_pack(pid, tickets), read back with lotto_ctl_pid/_tickets", "[ctl]")
{
	auto m = machine("cpus 1\ntask name=a cpu=100%\n");
	uint32_t a = kFirstPid, sa = *m->slot_of(a);
	REQUIRE(m->set_tickets(a, 777));
	uint64_t word;
	memcpy(&word, &m->ctl()[sa], sizeof(word));
	CHECK(word == lotto_ctl_pack(a, 777));
	CHECK(lotto_ctl_pid(word) == a);
	CHECK(lotto_ctl_tickets(word) == 777);
	// the struct's view of the same word: what lotto-ctl and the tests read
	CHECK(m->ctl()[sa].pid == a);
	CHECK(m->ctl()[sa].tickets == 777);
	// a word packed by the host (Backend::set_tickets) is what the draws use
	uint64_t host_word = lotto_ctl_pack(a, 31);
	memcpy(&m->ctl()[sa], &host_word, sizeof(host_word));
	m->run_for(1 * kSec);
	CHECK(m->tasks()[sa].tickets == 31);
}

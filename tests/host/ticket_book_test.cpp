// The ticket book decides what is in force: pins over policies over the
// default, boosts on top; only changes reach the ctl table.
#include "core/ticket_book.h"
#include "sim/sim_backend.h"

#include <catch2/catch_test_macros.hpp>
#include <thread>

using namespace lotto;

namespace {

struct World {
	std::unique_ptr<sim::SimBackend> b;
	std::unique_ptr<TicketBook> book;
	std::vector<uint32_t> pids;

	World()
	{
		BackendConfig cfg;
		cfg.sim_speed = 0;
		auto w = sim::parse_workload("cpus 1\ntask name=a cpu=100%\ntask name=b cpu=100%\ntask name=c cpu=100%\n",
					     "test.wl");
		REQUIRE(w);
		b = std::make_unique<sim::SimBackend>(cfg, *w);
		REQUIRE(b->start());
		b->machine()->run_for(1000000);
		pids = b->machine()->pids();
		REQUIRE(pids.size() == 3);
		book = std::make_unique<TicketBook>(*b, 100);
	}
	uint32_t slot(uint32_t pid) { return *book->slot_of(pid); }
	// what the core reads for a pid: ctl if it names the pid, else the default
	uint32_t ctl(uint32_t pid)
	{
		auto c = b->ctl()[slot(pid)];
		return c.pid == pid ? c.tickets : 100;
	}
	std::vector<uint32_t> out(uint32_t v)
	{
		std::vector<uint32_t> o(b->slots_hw(), 0);
		for (auto p : pids)
			o[slot(p)] = v;
		return o;
	}
};

} // namespace

TEST_CASE("a pin overrides the policies until it is removed", "[tickets]")
{
	World w;
	w.book->set_policy_order({"p"});
	auto o = w.out(300);
	w.book->policy_output("p", o.data(), uint32_t(o.size()));
	w.book->apply();
	CHECK(w.ctl(w.pids[0]) == 300);
	REQUIRE(w.book->pin(w.pids[0], 7));
	w.book->apply();
	CHECK(w.ctl(w.pids[0]) == 7);
	CHECK(w.book->source(w.slot(w.pids[0])) == "pin");
	CHECK(w.ctl(w.pids[1]) == 300);
	REQUIRE(w.book->unpin(w.pids[0]));
	w.book->apply();
	CHECK(w.ctl(w.pids[0]) == 300);
	CHECK(w.book->source(w.slot(w.pids[0])) == "policy p");
}

TEST_CASE("unpin all restores the policies' tickets", "[tickets]")
{
	World w;
	auto o = w.out(40);
	w.book->policy_output("p", o.data(), uint32_t(o.size()));
	for (auto p : w.pids)
		REQUIRE(w.book->pin(p, 999));
	w.book->apply();
	CHECK(w.book->unpin_all() == 3);
	w.book->apply();
	for (auto p : w.pids)
		CHECK(w.ctl(p) == 40);
}

TEST_CASE("later policies see earlier ones and the last opinion wins", "[tickets]")
{
	World w;
	w.book->set_policy_order({"first", "second"});
	auto a = w.out(50);
	w.book->policy_output("first", a.data(), uint32_t(a.size()));
	std::vector<uint32_t> in(w.b->slots_hw());
	w.book->fill_input("second", in.data(), uint32_t(in.size()));
	CHECK(in[w.slot(w.pids[2])] == 50);
	std::vector<uint32_t> b(w.b->slots_hw(), 0);
	b[w.slot(w.pids[2])] = 75;	// an opinion about one task only
	w.book->policy_output("second", b.data(), uint32_t(b.size()));
	w.book->apply();
	CHECK(w.ctl(w.pids[0]) == 50);
	CHECK(w.ctl(w.pids[2]) == 75);
	// the first policy starts from the tickets in force, not its own output
	w.book->fill_input("first", in.data(), uint32_t(in.size()));
	CHECK(in[w.slot(w.pids[2])] != 0);
}

TEST_CASE("only changed tickets are written", "[tickets]")
{
	World w;
	auto o = w.out(10);
	w.book->policy_output("p", o.data(), uint32_t(o.size()));
	CHECK(w.book->apply() == 3);
	CHECK(w.book->apply() == 0);
	o[w.slot(w.pids[1])] = 11;
	w.book->policy_output("p", o.data(), uint32_t(o.size()));
	CHECK(w.book->apply() == 1);
}

TEST_CASE("a boost multiplies the tickets and expires by itself", "[tickets]")
{
	World w;
	REQUIRE(w.book->pin(w.pids[0], 100));
	REQUIRE(w.book->boost(w.pids[0], 3.0, std::chrono::milliseconds(30)));
	w.book->apply();
	CHECK(w.ctl(w.pids[0]) == 300);
	std::this_thread::sleep_for(std::chrono::milliseconds(60));
	w.book->apply();
	CHECK(w.ctl(w.pids[0]) == 100);
	CHECK(w.book->boosts().empty());
}

TEST_CASE("a boost never pushes tickets outside 1..1000000", "[tickets]")
{
	World w;
	REQUIRE(w.book->pin(w.pids[0], 900000));
	REQUIRE(w.book->boost(w.pids[0], 1000.0, std::nullopt));
	w.book->apply();
	CHECK(w.ctl(w.pids[0]) == 1000000);
}

TEST_CASE("bad pins and boosts are refused and change nothing", "[tickets]")
{
	World w;
	CHECK_FALSE(w.book->pin(w.pids[0], 0));
	CHECK_FALSE(w.book->pin(w.pids[0], 1000001));
	CHECK_FALSE(w.book->pin(4000000, 5));
	CHECK_FALSE(w.book->boost(w.pids[0], 0.0, std::nullopt));
	CHECK_FALSE(w.book->boost(w.pids[0], -2.0, std::nullopt));
	CHECK_FALSE(w.book->boost(w.pids[0], 1.0 / 0.0, std::nullopt));
	CHECK_FALSE(w.book->unpin(w.pids[0]));
	CHECK(w.book->pins().empty());
	CHECK(w.book->boosts().empty());
}

TEST_CASE("every change is kept in the task's history", "[tickets]")
{
	World w;
	REQUIRE(w.book->pin(w.pids[0], 5));
	w.book->apply();
	REQUIRE(w.book->unpin(w.pids[0]));
	w.book->apply();
	auto *h = w.book->history(w.pids[0]);
	REQUIRE(h);
	REQUIRE(h->size() >= 2);
	CHECK(h->front().tickets == 5);
	CHECK(h->front().source == "pin");
	CHECK(h->back().tickets == 100);
}

TEST_CASE("pins of threads that exit are forgotten", "[tickets]")
{
	BackendConfig cfg;
	cfg.sim_speed = 0;
	auto wl = sim::parse_workload("cpus 1\ntask name=short cpu=100% stop=50ms\ntask name=long cpu=100%\n", "t.wl");
	REQUIRE(wl);
	sim::SimBackend b(cfg, *wl);
	REQUIRE(b.start());
	b.machine()->run_for(1000000);
	TicketBook book(b, 100);
	auto pid = b.machine()->pids_named("short").at(0);
	REQUIRE(book.pin(pid, 9));
	book.apply();
	b.machine()->run_for(200000000);
	book.apply();
	CHECK(book.pins().empty());
}

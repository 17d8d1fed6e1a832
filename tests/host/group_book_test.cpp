// The group book: policy groups by name get gids, funding from pins over
// policies over the default, flags from the policies; only changes reach
// lotto_group_ctl, and a group nobody names is given back.
#include "core/group_book.h"
#include "sim/sim_backend.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

using namespace lotto;
using Catch::Matchers::ContainsSubstring;

namespace {

struct World {
	std::unique_ptr<sim::SimBackend> b;
	std::unique_ptr<GroupBook> book;

	World()
	{
		BackendConfig cfg;
		cfg.sim_speed = 0;
		auto w = sim::parse_workload("cpus 1\ntask name=a cpu=100%\n", "test.wl");
		REQUIRE(w);
		b = std::make_unique<sim::SimBackend>(cfg, *w);
		REQUIRE(b->start());
		book = std::make_unique<GroupBook>(*b);
	}
	lotto_group_ctl ctl(uint32_t gid) { return b->group_ctl()[gid]; }
};

} // namespace

TEST_CASE("group names: letters, digits and _.:@-, not a number, not too long", "[groups]")
{
	CHECK(check_group_name("uid:1000"));
	CHECK(check_group_name("web-1.example@prod_x"));
	CHECK_FALSE(check_group_name(""));
	CHECK_FALSE(check_group_name("512"));
	CHECK_FALSE(check_group_name("a b"));
	CHECK_FALSE(check_group_name("a/b"));
	CHECK_FALSE(check_group_name("caf\xc3\xa9"));
	// the name is not echoed: a terminal escape stays out of the message
	auto e = check_group_name("x\x1b[2Jy");
	REQUIRE_FALSE(e);
	CHECK(e.error().msg == "a group name has a character other than letters, digits and _.:@- (byte 0x1b at offset 1)");
	CHECK(check_group_name("a b").error().msg.find("(byte 0x20 at offset 1)") != std::string::npos);
	CHECK(check_group_name("a/b").error().msg.find("('/' at offset 1)") != std::string::npos);
	CHECK(check_group_name(std::string(LOTTO_GROUP_NAME_MAX, 'x')));
	CHECK_THAT(check_group_name(std::string(LOTTO_GROUP_NAME_MAX + 1, 'x')).error().msg,
		   ContainsSubstring("too long"));
}

TEST_CASE("pins over policies over the default; the last policy in order wins; flags are the union", "[groups]")
{
	World w;
	w.book->set_policy_order({"first", "second"});
	REQUIRE(w.book->policy_groups("first", {{"u1", 100, LOTTO_GROUP_F_TRANSFERS}, {"u2", 0, 0}}));
	REQUIRE(w.book->policy_groups("second", {{"u1", 300, LOTTO_GROUP_F_TRANSFERS_IN}}));
	CHECK(w.book->apply() == 2);
	uint32_t u1 = *w.book->gid_of("u1"), u2 = *w.book->gid_of("u2");
	CHECK(u1 == LOTTO_POLICY_GID_MIN);
	CHECK(u2 == LOTTO_POLICY_GID_MIN + 1);
	CHECK(w.ctl(u1).funding == 300);
	CHECK(w.ctl(u1).flags == (LOTTO_GROUP_F_TRANSFERS | LOTTO_GROUP_F_TRANSFERS_IN));
	CHECK(w.ctl(u2).funding == 0);	// the default
	CHECK(w.book->source(u1) == "policy second");
	CHECK(w.book->source(u2) == "default");
	CHECK(w.book->apply() == 0);	// nothing changed: nothing written
	REQUIRE(w.book->pin("u1", 50));
	w.book->apply();
	CHECK(w.ctl(u1).funding == 50);
	CHECK(w.book->source(u1) == "pin");
	REQUIRE(w.book->pin(std::to_string(u2), 70));	// by gid
	CHECK(w.book->pins().at("u2") == 70);
	CHECK(w.book->unpin("u1"));
	CHECK_FALSE(w.book->unpin("u1"));
	w.book->apply();
	CHECK(w.ctl(u1).funding == 300);
	// a policy that goes away takes its groups with it, unless pinned
	w.book->drop_policy("first");
	w.book->drop_policy("second");
	w.book->apply();
	CHECK_FALSE(w.book->gid_of("u1"));
	CHECK(w.ctl(u1).funding == 0);
	CHECK(w.ctl(u1).flags == 0);
	CHECK(*w.book->gid_of("u2") == u2);	// pinned: kept
	CHECK(w.ctl(u2).funding == 70);
}

TEST_CASE("a pin names a group before any policy makes it, and holds when one does", "[groups]")
{
	World w;
	REQUIRE(w.book->pin("uid:1000", 400));	// as restored from the state file
	REQUIRE(w.book->policy_groups("fair_share", {{"uid:1000", 100, 0}}));
	w.book->apply();
	CHECK(w.ctl(*w.book->gid_of("uid:1000")).funding == 400);
	CHECK(w.book->pin("nope nope", 5).error().code == Errc::invalid);
	CHECK(w.book->pin("600", 5).error().code == Errc::not_found);
	CHECK(w.book->pin("uid:1000", 0).error().code == Errc::invalid);
	CHECK(w.book->pin("uid:1000", LOTTO_FUNDING_MAX + 1).error().code == Errc::invalid);
}

TEST_CASE("more names than policy gids: the tick's groups are refused whole, nothing half made", "[groups]")
{
	World w;
	std::vector<GroupBook::PolicyGroup> many;
	for (uint32_t i = 0; i <= LOTTO_POLICY_GID_MAX - LOTTO_POLICY_GID_MIN; i++)
		many.push_back({"g" + std::to_string(i), 10, 0});
	REQUIRE(w.book->policy_groups("a", many));
	auto r = w.book->policy_groups("b", {{"g0", 5, 0}, {"one-more", 5, 0}});
	REQUIRE_FALSE(r);
	CHECK(r.error().code == Errc::busy);
	CHECK_FALSE(w.book->gid_of("one-more"));
	w.book->drop_policy("a");
	w.book->apply();	// all given back
	REQUIRE(w.book->policy_groups("b", {{"one-more", 5, 0}}));
	w.book->apply();
	CHECK(*w.book->gid_of("one-more") == LOTTO_POLICY_GID_MIN);
}

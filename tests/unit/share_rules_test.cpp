// The rules that flatten nested cgroups (lotto_rules.h: lotto_share_step,
// lotto_share_comp, lotto_share_funding), shared by the core and the sim.
extern "C" {
#include "lotto_abi.h"
#include "lotto_rules.h"
}

#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstdint>

TEST_CASE("a share step takes part / whole of the share, floored, never more than all of it", "[rules][share]")
{
	const uint32_t one = LOTTO_SHARE_ONE;
	CHECK(lotto_share_step(one, 300, 400) == one / 4 * 3);
	CHECK(lotto_share_step(one / 2, 100, 400) == one / 8);
	// nothing else active, or a whole that lost track of the part: unchanged
	CHECK(lotto_share_step(one, 100, 100) == one);
	CHECK(lotto_share_step(one, 100, 50) == one);
	CHECK(lotto_share_step(one / 3, 7, 0) == one / 3);
	// floored at LOTTO_SHARE_MIN (1/1024)
	CHECK(lotto_share_step(one, 1, 1000000) == LOTTO_SHARE_MIN);
	CHECK(lotto_share_step(LOTTO_SHARE_MIN, 1, 2) == LOTTO_SHARE_MIN);
	// a part of 0 (a group drawing before it was counted) is the floor, not 0
	CHECK(lotto_share_step(one, 0, 100) == LOTTO_SHARE_MIN);
}

TEST_CASE("a share folded into the charge races as the share of the funding would", "[rules][share]")
{
	// F = 100 with share 1/3 against F' = 100/3: the same mean key increment
	const uint32_t third = LOTTO_SHARE_ONE / 3;
	uint32_t comp = lotto_share_comp(LOTTO_COMP_ONE, third);
	CHECK(comp == 3 * LOTTO_COMP_ONE);
	CHECK(lotto_share_comp(LOTTO_COMP_ONE, LOTTO_SHARE_ONE) == LOTTO_COMP_ONE);
	// below the floor counts as the floor: the charge stays below 2^24
	CHECK(lotto_share_comp(LOTTO_COMP_MAX, 1) == LOTTO_COMP_MAX * 1024u);
	CHECK(uint64_t(LOTTO_COMP_MAX) * 1024u < (1u << 24));
	// the largest key increment stays below 2^57 (lotto_catchup adds 8)
	uint64_t d = lotto_key_delta(1, LOTTO_TICKETS_MIN, lotto_share_comp(LOTTO_COMP_MAX, LOTTO_SHARE_MIN));
	CHECK(d < (1ull << 57));
	// the exact mean: 1/3 of 100 tickets, over many uniform draws
	double sum_a = 0, sum_b = 0;
	for (uint32_t r = 1; r < 200000; r++) {
		uint32_t u = r * 21473u;
		sum_a += double(lotto_key_delta(u, 100, comp));
		sum_b += double(lotto_key_delta(u, 300, LOTTO_COMP_ONE)) * 9;	// 100/3 tickets = 300 / 9
	}
	CHECK(std::abs(sum_a / sum_b - 1) < 1e-3);
}

TEST_CASE("the funding shown is the share of the top-level funding, at least 1", "[rules][share]")
{
	CHECK(lotto_share_funding(100, LOTTO_SHARE_ONE / 4 * 3) == 75);
	CHECK(lotto_share_funding(100, LOTTO_SHARE_ONE / 4) == 25);
	CHECK(lotto_share_funding(100, LOTTO_SHARE_ONE) == 100);
	CHECK(lotto_share_funding(1, LOTTO_SHARE_MIN) == 1);
	CHECK(lotto_share_funding(LOTTO_FUNDING_MAX, LOTTO_SHARE_ONE) == LOTTO_FUNDING_MAX);
}

// The event loop's one-shot timers: armed, disarmed and armed again, an
// expiry that was pending when the timer changed is not delivered.
#include "core/event_loop.h"

#include <catch2/catch_test_macros.hpp>

#include <thread>

using namespace lotto;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

// run the loop until `done` or the timeout
template <typename F> bool run_until(EventLoop &loop, F done, std::chrono::milliseconds timeout = 2000ms)
{
	auto until = SteadyClock::now() + timeout;
	while (!done() && SteadyClock::now() < until)
		loop.run_once(10);
	return done();
}

} // namespace

TEST_CASE("a one-shot timer fires once at its time, and not at all when disarmed", "[event_loop]")
{
	EventLoop loop;
	int fired = 0;
	auto id = loop.add_oneshot([&](uint64_t missed) {
		CHECK(missed == 0);
		fired++;
	});
	REQUIRE(id);
	loop.run_once(50);
	CHECK(fired == 0);	// created disarmed
	auto t0 = SteadyClock::now();
	loop.arm_at(*id, t0 + 30ms);
	REQUIRE(run_until(loop, [&] { return fired == 1; }));
	CHECK(SteadyClock::now() - t0 >= 30ms);
	loop.run_once(100);
	CHECK(fired == 1);	// once

	loop.arm_at(*id, SteadyClock::now() + 20ms);
	loop.disarm(*id);
	std::this_thread::sleep_for(50ms);
	loop.run_once(50);
	CHECK(fired == 1);

	loop.arm_at(*id, SteadyClock::now() - 1s);	// in the past: at once
	REQUIRE(run_until(loop, [&] { return fired == 2; }, 500ms));
	loop.remove(*id);
}

TEST_CASE("an expiry pending when a one-shot timer is armed again is not delivered", "[event_loop]")
{
	EventLoop loop;
	int fired = 0;
	auto id = loop.add_oneshot([&](uint64_t) { fired++; });
	REQUIRE(id);
	loop.arm_at(*id, SteadyClock::now());
	std::this_thread::sleep_for(20ms);	// expired, not yet handled
	loop.arm_at(*id, SteadyClock::now() + 200ms);
	loop.run_once(50);
	CHECK(fired == 0);
	REQUIRE(run_until(loop, [&] { return fired == 1; }));
}

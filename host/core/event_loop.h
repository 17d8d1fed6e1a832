// event_loop.h — the host's single-threaded epoll loop: fds, drift-free
// periodic timers and one-shot timers (timerfd, absolute CLOCK_MONOTONIC
// deadlines: std::chrono::steady_clock), signals.
// Callbacks never throw; they return nothing and report through the logger.
#pragma once

#include "core/fd.h"
#include "core/result.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <sys/timerfd.h>

namespace lotto {

class EventLoop {
public:
	using Id = uint64_t;
	// events: EPOLLIN etc.; the callback gets the returned epoll events
	using FdCallback = std::function<void(uint32_t events)>;
	// missed: how many periods elapsed since the last call minus one (overruns)
	using TimerCallback = std::function<void(uint64_t missed)>;

	EventLoop();
	bool valid() const { return epfd_.valid(); }

	Result<Id> add_fd(int fd, uint32_t events, FdCallback cb);
	// First expiry after `first` (0: after one period), then every `period`,
	// on absolute deadlines: late callbacks do not shift later ones.
	Result<Id> add_timer(std::chrono::nanoseconds period, TimerCallback cb,
			     std::chrono::nanoseconds first = std::chrono::nanoseconds(0));
	Result<void> set_timer_period(Id id, std::chrono::nanoseconds period);
	// A one-shot timer, created disarmed: arm_at() makes it fire once at
	// `when` (a time already past: at once), disarm() stops it. An expiry
	// that was pending when the timer was disarmed or armed again is not
	// delivered. The callback gets missed = 0.
	Result<Id> add_oneshot(TimerCallback cb);
	void arm_at(Id id, std::chrono::steady_clock::time_point when);
	void disarm(Id id);
	void remove(Id id);	// safe to call from inside any callback

	// Run one round: wait up to timeout_ms (-1 forever) and dispatch.
	void run_once(int timeout_ms);
	void run();		// until stop()
	void stop() { stopping_ = true; }
	bool stopping() const { return stopping_; }

private:
	struct Source {
		Fd owned;	// timerfds are owned by the loop
		int fd = -1;
		FdCallback fd_cb;
		TimerCallback timer_cb;
	};
	Result<Id> add_timerfd(const itimerspec &its, TimerCallback cb);
	Fd epfd_;
	Id next_id_ = 1;
	std::map<Id, std::shared_ptr<Source>> sources_;
	bool stopping_ = false;
};

} // namespace lotto

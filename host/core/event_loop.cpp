#include "core/event_loop.h"

#include <cerrno>
#include <cstring>
#include <sys/epoll.h>

namespace lotto {

EventLoop::EventLoop() : epfd_(epoll_create1(EPOLL_CLOEXEC)) {}

Result<EventLoop::Id> EventLoop::add_fd(int fd, uint32_t events, FdCallback cb)
{
	Id id = next_id_++;
	epoll_event ev{};
	ev.events = events;
	ev.data.u64 = id;
	if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
		return err(std::string("epoll_ctl: ") + strerror(errno));
	auto s = std::make_shared<Source>();
	s->fd = fd;
	s->fd_cb = std::move(cb);
	sources_[id] = std::move(s);
	return id;
}

static itimerspec periodic(std::chrono::nanoseconds period, std::chrono::nanoseconds first)
{
	using namespace std::chrono;
	timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	auto start = seconds(now.tv_sec) + nanoseconds(now.tv_nsec) + (first.count() ? first : period);
	itimerspec its{};
	its.it_value.tv_sec = duration_cast<seconds>(start).count();
	its.it_value.tv_nsec = (start % seconds(1)).count();
	its.it_interval.tv_sec = duration_cast<seconds>(period).count();
	its.it_interval.tv_nsec = (period % seconds(1)).count();
	return its;
}

Result<EventLoop::Id> EventLoop::add_timer(std::chrono::nanoseconds period, TimerCallback cb,
					   std::chrono::nanoseconds first)
{
	if (period.count() <= 0)
		return err("timer period must be positive");
	return add_timerfd(periodic(period, first), std::move(cb));
}

Result<EventLoop::Id> EventLoop::add_oneshot(TimerCallback cb)
{
	return add_timerfd(itimerspec{}, std::move(cb));
}

static timespec abs_time(std::chrono::steady_clock::time_point t)
{
	using namespace std::chrono;
	auto ns = duration_cast<nanoseconds>(t.time_since_epoch()).count();
	if (ns <= 0)
		ns = 1;	// {0, 0} would disarm: a time in the past fires at once
	return timespec{time_t(ns / 1000000000), long(ns % 1000000000)};
}

void EventLoop::arm_at(Id id, std::chrono::steady_clock::time_point when)
{
	auto it = sources_.find(id);
	if (it == sources_.end() || !it->second->owned)
		return;
	itimerspec its{};
	its.it_value = abs_time(when);
	timerfd_settime(it->second->fd, TFD_TIMER_ABSTIME, &its, nullptr);
}

void EventLoop::disarm(Id id)
{
	auto it = sources_.find(id);
	if (it == sources_.end() || !it->second->owned)
		return;
	itimerspec its{};
	timerfd_settime(it->second->fd, 0, &its, nullptr);
}

Result<EventLoop::Id> EventLoop::add_timerfd(const itimerspec &its, TimerCallback cb)
{
	Fd tfd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
	if (!tfd)
		return err(std::string("timerfd_create: ") + strerror(errno));
	if ((its.it_value.tv_sec || its.it_value.tv_nsec) &&
	    timerfd_settime(tfd.get(), TFD_TIMER_ABSTIME, &its, nullptr) < 0)
		return err(std::string("timerfd_settime: ") + strerror(errno));
	int fd = tfd.get();
	auto id = add_fd(fd, EPOLLIN, nullptr);
	if (!id)
		return id;
	auto &s = sources_[*id];
	s->owned = std::move(tfd);
	s->timer_cb = std::move(cb);
	return id;
}

Result<void> EventLoop::set_timer_period(Id id, std::chrono::nanoseconds period)
{
	auto it = sources_.find(id);
	if (it == sources_.end() || !it->second->owned)
		return err("no such timer");
	auto its = periodic(period, std::chrono::nanoseconds(0));
	if (timerfd_settime(it->second->fd, TFD_TIMER_ABSTIME, &its, nullptr) < 0)
		return err(std::string("timerfd_settime: ") + strerror(errno));
	return {};
}

void EventLoop::remove(Id id)
{
	auto it = sources_.find(id);
	if (it == sources_.end())
		return;
	epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, it->second->fd, nullptr);
	sources_.erase(it);	// callbacks in flight hold their own reference
}

void EventLoop::run_once(int timeout_ms)
{
	epoll_event evs[32];
	int n = epoll_wait(epfd_.get(), evs, 32, timeout_ms);
	for (int i = 0; i < n; i++) {
		auto it = sources_.find(evs[i].data.u64);
		if (it == sources_.end())
			continue;	// removed by an earlier callback this round
		auto s = it->second;
		if (s->timer_cb) {
			uint64_t expirations = 0;
			if (read(s->fd, &expirations, sizeof(expirations)) != sizeof(expirations) || !expirations)
				continue;
			s->timer_cb(expirations - 1);
		} else if (s->fd_cb) {
			s->fd_cb(evs[i].events);
		}
	}
}

void EventLoop::run()
{
	while (!stopping_)
		run_once(-1);
}

} // namespace lotto

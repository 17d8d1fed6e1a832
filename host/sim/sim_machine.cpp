#include "sim/sim_machine.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <thread>

namespace lotto::sim {

namespace {

constexpr uint64_t kNever = UINT64_MAX;
constexpr uint32_t kNoSlot = UINT32_MAX;

uint64_t sat_add(uint64_t a, uint64_t b) { return a > kNever - b ? kNever : a + b; }

Result<void> check_config(const BackendConfig &cfg)
{
	auto r = check_backend_config(cfg);
	if (!r)
		return err("sim: " + r.error().msg);
	return {};
}

} // namespace

SimMachine::SimMachine(const BackendConfig &cfg, SlotTable slots, RunQueue rq, uint32_t nr_cpus)
	: cfg_(cfg), slice_ns_(uint64_t(cfg.slice_us) * 1000), starve_ns_(uint64_t(cfg.starve_ms) * 1000000),
	  slots_(std::move(slots)), rq_(std::move(rq)), cpus_(nr_cpus), idle_(nr_cpus)
{
	rng_.s = cfg.sim_seed;
}

Result<std::unique_ptr<SimMachine>> SimMachine::create(const Workload &w, const BackendConfig &cfg)
{
	if (auto r = check_config(cfg); !r)
		return r.error();
	uint32_t n = cfg.sim_cpus ? cfg.sim_cpus : w.cpus ? w.cpus : std::max(1u, std::thread::hardware_concurrency());
	if (n > kMaxCpus)
		return err("sim: " + std::to_string(n) + " CPUs; the sim models at most " + std::to_string(kMaxCpus));
	for (const TaskSpec &t : w.tasks)
		if (t.pin && t.pin->end() > n)
			return err(w.source + ":" + std::to_string(t.line) + ": pin=" + t.pin_text + " names CPU " +
				   std::to_string(t.pin->end() - 1) + " but the machine has " + std::to_string(n) +
				   " CPUs (0.." + std::to_string(n - 1) + ")");
	auto slots = SlotTable::make();
	if (!slots)
		return slots.error();
	std::unique_ptr<SimMachine> m(new SimMachine(cfg, std::move(*slots), RunQueue(n), n));
	m->tick_ns_ = w.tick_ns;
	m->source_ = w.source;
	m->populate(w);
	m->advance_to(0);
	return m;
}

Result<std::unique_ptr<SimMachine>> SimMachine::from_text(std::string_view workload, const BackendConfig &cfg)
{
	auto w = parse_workload(workload, "(workload text)");
	if (!w)
		return w.error();
	return create(*w, cfg);
}

void SimMachine::populate(const Workload &w)
{
	std::map<std::string, uint64_t> ids;
	auto cgroup_id = [&](const std::string &path) {
		auto [it, fresh] = ids.emplace(path, cgroups_.size() + 1);
		if (fresh)
			cgroups_.push_back(path);
		return it->second;
	};
	cgroup_id("/");
	specs_ = w.tasks;
	threads_.reserve(w.nr_threads());
	for (uint32_t s = 0; s < specs_.size(); s++) {
		const TaskSpec &spec = specs_[s];
		spec_cgroup_.push_back(cgroup_id(spec.cgroup));
		uint32_t group = rq_.group_of(spec.pin ? *spec.pin : CpuSet::all(nr_cpus()));
		for (uint32_t p = 0; p < spec.count; p++) {
			uint32_t tgid = kFirstPid + uint32_t(threads_.size());
			for (uint32_t i = 0; i < spec.threads; i++) {
				Thread th;
				th.pid = kFirstPid + uint32_t(threads_.size());
				th.tgid = tgid;
				th.spec = s;
				th.group = group;
				th.r.pid = th.pid;
				th.r.tgid = tgid;
				th.r.comm = spec.name;
				uint32_t t = uint32_t(threads_.size());
				threads_.push_back(std::move(th));
				push(spec.start_ns, Ev::Start, t, 0);
				if (spec.stop_ns)
					push(*spec.stop_ns, Ev::Stop, t, 0);
			}
		}
	}
}

// ---------------------------------------------------------------- time

void SimMachine::push(uint64_t t, Ev kind, uint32_t target, uint64_t token)
{
	events_.push(Event{t, seq_++, kind, target, token});
}

void SimMachine::run_for(uint64_t ns) { advance_to(sat_add(now_, ns)); }

void SimMachine::advance_to(uint64_t t)
{
	while (!events_.empty() && events_.top().t <= t) {
		Event e = events_.top();
		events_.pop();
		now_ = e.t;
		handle(e);
	}
	now_ = std::max(now_, t);
	sync_running();
}

void SimMachine::handle(const Event &e)
{
	switch (e.kind) {
	case Ev::Start:
		start(e.target);
		break;
	case Ev::Wake:
		if (threads_[e.target].state == ThreadState::Sleeping && threads_[e.target].wake_token == e.token)
			wake(e.target);
		break;
	case Ev::Stop:
		stop(e.target);
		break;
	case Ev::StintEnd:
		if (cpus_[e.target].cur >= 0 && cpus_[e.target].token == e.token)
			stint_end(e.target);
		break;
	}
}

// ---------------------------------------------------------------- thread life

void SimMachine::start(uint32_t t)
{
	Thread &th = threads_[t];
	if (th.state != ThreadState::NotStarted)
		return;
	const TaskSpec &spec = specs_[th.spec];
	lotto_task_stat init{};
	init.pid = th.pid;
	init.tgid = th.tgid;
	init.nice = spec.nice;
	init.uid = spec.uid;
	init.cgroup_id = spec_cgroup_[th.spec];
	init.comp_q10 = LOTTO_COMP_ONE;
	init.tickets = cfg_.default_tickets;
	memcpy(init.comm, spec.name.c_str(), std::min(spec.name.size(), size_t(LOTTO_COMM_LEN - 1)));
	if (auto slot = slots_.claim(init)) {
		th.slot = *slot;
		if (spec.tickets) {
			// as if user space had written it when the task appeared
			lotto_ctl c{th.pid, spec.tickets};
			uint64_t word;
			memcpy(&word, &c, sizeof(word));
			__atomic_store_n(reinterpret_cast<uint64_t *>(&slots_.ctl()[*slot]), word, __ATOMIC_RELAXED);
			slots_.at(*slot).tickets = spec.tickets;
		}
	} else {
		cpus_[0].stat[LOTTO_STAT_NO_SLOT]++;
	}
	alive_++;
	wake(t);
}

void SimMachine::wake(uint32_t t)
{
	Thread &th = threads_[t];
	const TaskSpec &spec = specs_[th.spec];
	th.burst_left = spec.run_ns ? spec.run_ns : kNever;
	th.enq_ns = now_;
	int64_t c = idle_cpu_for(t);
	if (c >= 0) {
		cpus_[c].stat[LOTTO_STAT_DIRECT]++;
		if (th.slot != kNoSlot)
			slots_.at(th.slot).tickets = slots_.tickets_for(th.slot, th.pid, cfg_.default_tickets);
		run_on(uint32_t(c), t, false);
		return;
	}
	enqueue(t, draw_key(t), th.last_cpu);
}

void SimMachine::stop(uint32_t t)
{
	Thread &th = threads_[t];
	int64_t freed_cpu = -1;
	switch (th.state) {
	case ThreadState::Exited:
		return;
	case ThreadState::NotStarted:
		th.state = ThreadState::Exited;
		return;
	case ThreadState::Sleeping:
		th.wake_token++;
		break;
	case ThreadState::Waiting:
		rq_.erase({th.key, th.enq_ns, t, th.group});
		break;
	case ThreadState::Running:
		th.r.runtime_ns += now_ - th.stint_start;
		freed_cpu = th.cpu;
		cpus_[th.cpu].token++;
		set_cur(uint32_t(th.cpu), -1);
		th.cpu = -1;
		break;
	}
	if (th.slot != kNoSlot)
		slots_.release(th.slot);
	th.slot = kNoSlot;
	th.state = ThreadState::Exited;
	alive_--;
	if (freed_cpu >= 0)
		dispatch(uint32_t(freed_cpu), -1);
}

// The running thread's stint ended: its slice ran out, or its burst of CPU
// work did (it blocks, or yields when it has no sleep).
void SimMachine::stint_end(uint32_t cpu)
{
	uint32_t t = uint32_t(cpus_[cpu].cur);
	Thread &th = threads_[t];
	const TaskSpec &spec = specs_[th.spec];
	uint64_t used = now_ - th.stint_start;
	th.r.runtime_ns += used;
	th.comp = lotto_comp_q10(used, slice_ns_);
	if (th.burst_left != kNever)
		th.burst_left -= std::min(used, th.burst_left);
	if (th.burst_left == 0 && spec.sleep_ns > 0) {
		th.state = ThreadState::Sleeping;
		th.cpu = -1;
		set_cur(cpu, -1);
		sync_slot(t);
		push(now_ + spec.sleep_ns, Ev::Wake, t, ++th.wake_token);
		dispatch(cpu, -1);
		return;
	}
	if (th.burst_left == 0)
		th.burst_left = spec.run_ns;	// sched_yield(): still runnable
	sync_slot(t);
	dispatch(cpu, t);
}

// ---------------------------------------------------------------- the lottery

uint64_t SimMachine::draw_key(uint32_t t)
{
	Thread &th = threads_[t];
	uint32_t tickets = cfg_.default_tickets;
	uint32_t f = cfg_.compensation ? th.comp : LOTTO_COMP_ONE;
	if (th.slot != kNoSlot) {
		tickets = slots_.tickets_for(th.slot, th.pid, cfg_.default_tickets);
		lotto_task_stat &s = slots_.at(th.slot);
		s.tickets = tickets;
		s.comp_q10 = f;
	}
	return rq_.vtime(th.group) + lotto_key_delta(lotto_rng_next(&rng_), tickets, f);
}

void SimMachine::enqueue(uint32_t t, uint64_t key, uint32_t on_cpu)
{
	Thread &th = threads_[t];
	th.state = ThreadState::Waiting;
	th.cpu = -1;
	th.key = key;
	th.enq_ns = now_;
	rq_.push({key, now_, t, th.group});
	cpus_[on_cpu].stat[LOTTO_STAT_ENQUEUES]++;
}

// CPU `cpu` needs a task: its previous one (`prev`, -1 if it blocked or
// exited) ran out of slice and is still runnable.
void SimMachine::dispatch(uint32_t cpu, int64_t prev)
{
	Cpu &c = cpus_[cpu];
	if (auto o = rq_.oldest(cpu); o && now_ - o->enq_ns >= starve_ns_) {
		// starvation guard: run the longest waiter whatever its key
		rq_.erase(*o);
		c.stat[LOTTO_STAT_RESCUES]++;
		c.stat[LOTTO_STAT_DISPATCHES]++;
		threads_[o->task].r.rescues++;
		if (prev >= 0)
			enqueue(uint32_t(prev), draw_key(uint32_t(prev)), cpu);
		run_on(cpu, o->task, false);
		if (prev >= 0)
			kick_idle(uint32_t(prev));
		return;
	}
	// the draw: residuals over each group's V, prev's freshly drawn
	auto head = rq_.min_key(cpu);
	uint64_t hd = head ? rq_.residual(head->group, head->key) : 0;
	if (prev >= 0) {
		uint32_t p = uint32_t(prev);
		uint64_t pkey = draw_key(p);
		uint64_t pd = rq_.residual(threads_[p].group, pkey);
		if (!head) {
			c.stat[LOTTO_STAT_PREV_WINS]++;	// nobody else may run here
			run_on(cpu, p, true);
			return;
		}
		c.stat[LOTTO_STAT_DRAWS]++;
		if (lotto_key_before(pd, hd)) {
			rq_.advance(cpu, pd);
			c.stat[LOTTO_STAT_PREV_WINS]++;
			run_on(cpu, p, true);
			return;
		}
		rq_.erase(*head);
		rq_.advance(cpu, hd);
		enqueue(p, pkey, cpu);
		c.stat[LOTTO_STAT_DISPATCHES]++;
		run_on(cpu, head->task, false);
		kick_idle(p);
		return;
	}
	if (!head)
		return;	// stays idle
	rq_.erase(*head);
	rq_.advance(cpu, hd);
	c.stat[LOTTO_STAT_DRAWS]++;
	c.stat[LOTTO_STAT_DISPATCHES]++;
	run_on(cpu, head->task, false);
}

// Start (or, with `refill`, continue) thread t on cpu for one slice.
void SimMachine::run_on(uint32_t cpu, uint32_t t, bool refill)
{
	Thread &th = threads_[t];
	if (!refill) {
		uint64_t wait = now_ - th.enq_ns;
		th.r.wait_ns += wait;
		th.r.wait_max_ns = std::max(th.r.wait_max_ns, wait);
		th.r.waits++;
		th.state = ThreadState::Running;
		th.cpu = int32_t(cpu);
		th.last_cpu = cpu;
		set_cur(cpu, t);
		if (!th.ran.test(cpu)) {
			th.ran.set(cpu);
			th.r.cpus_used++;
		}
	}
	th.r.wins++;
	th.stint_start = now_;
	uint64_t end = now_ + slice_ns_;
	if (tick_ns_)
		end = (end + tick_ns_ - 1) / tick_ns_ * tick_ns_;	// noticed at the next tick
	end = std::min(end, sat_add(now_, th.burst_left));
	push(end, Ev::StintEnd, cpu, ++cpus_[cpu].token);
	sync_slot(t);
}

void SimMachine::set_cur(uint32_t cpu, int64_t t)
{
	Cpu &c = cpus_[cpu];
	if (c.cur < 0 && t >= 0)
		idle_--;
	else if (c.cur >= 0 && t < 0)
		idle_++;
	c.cur = t;
}

int64_t SimMachine::idle_cpu_for(uint32_t t) const
{
	if (!idle_)
		return -1;
	const Thread &th = threads_[t];
	const CpuSet &allowed = rq_.group_cpus(th.group);
	if (cpus_[th.last_cpu].cur < 0 && allowed.test(th.last_cpu))
		return th.last_cpu;
	for (uint32_t c = 0; c < nr_cpus(); c++)
		if (cpus_[c].cur < 0 && allowed.test(c))
			return c;
	return -1;
}

// A thread was just queued: an idle CPU it may run on takes a task now
// rather than staying idle (the BPF core kicks idle CPUs the same way).
void SimMachine::kick_idle(uint32_t t)
{
	while (threads_[t].state == ThreadState::Waiting) {
		int64_t c = idle_cpu_for(t);
		if (c < 0)
			return;
		dispatch(uint32_t(c), -1);
	}
}

// ---------------------------------------------------------------- stats

void SimMachine::sync_slot(uint32_t t)
{
	const Thread &th = threads_[t];
	if (th.slot == kNoSlot)
		return;
	lotto_task_stat &s = slots_.at(th.slot);
	uint64_t run = th.r.runtime_ns;
	if (th.state == ThreadState::Running)
		run += now_ - th.stint_start;
	s.runtime_ns = run;
	s.wins = th.r.wins;
	s.wait_ns = th.r.wait_ns;
	s.wait_max_ns = th.r.wait_max_ns;
	s.waits = th.r.waits;
	s.rescues = th.r.rescues;
	s.last_cpu = th.last_cpu;
}

void SimMachine::sync_running()
{
	for (const Cpu &c : cpus_)
		if (c.cur >= 0)
			sync_slot(uint32_t(c.cur));
}

GlobalStats SimMachine::stats() const
{
	GlobalStats g;
	for (const Cpu &c : cpus_) {
		g.per_cpu.push_back(c.stat);
		for (size_t i = 0; i < LOTTO_STAT_NR; i++)
			g.total[i] += c.stat[i];
	}
	return g;
}

// ---------------------------------------------------------------- lookups

std::vector<uint32_t> SimMachine::pids() const
{
	std::vector<uint32_t> out;
	out.reserve(threads_.size());
	for (const Thread &th : threads_)
		out.push_back(th.pid);
	return out;
}

std::vector<uint32_t> SimMachine::pids_named(std::string_view comm) const
{
	std::vector<uint32_t> out;
	for (const Thread &th : threads_)
		if (th.r.comm == comm)
			out.push_back(th.pid);
	return out;
}

std::optional<ThreadReport> SimMachine::thread(uint32_t pid) const
{
	if (pid < kFirstPid || pid - kFirstPid >= threads_.size())
		return std::nullopt;
	const Thread &th = threads_[pid - kFirstPid];
	ThreadReport r = th.r;
	r.state = th.state;
	if (th.slot != kNoSlot)
		r.slot = th.slot;
	if (th.state == ThreadState::Running)
		r.runtime_ns += now_ - th.stint_start;
	return r;
}

std::optional<uint32_t> SimMachine::slot_of(uint32_t pid) const
{
	auto r = thread(pid);
	return r ? r->slot : std::nullopt;
}

bool SimMachine::set_tickets(uint32_t pid, uint32_t tickets)
{
	auto slot = slot_of(pid);
	if (!slot)
		return false;
	lotto_ctl c{pid, tickets};
	uint64_t word;
	memcpy(&word, &c, sizeof(word));
	__atomic_store_n(reinterpret_cast<uint64_t *>(&slots_.ctl()[*slot]), word, __ATOMIC_RELAXED);
	return true;
}

bool SimMachine::ran_on(uint32_t pid, uint32_t cpu) const
{
	if (pid < kFirstPid || pid - kFirstPid >= threads_.size())
		return false;
	return threads_[pid - kFirstPid].ran.test(cpu);
}

std::string SimMachine::cgroup_path(uint64_t cgroup_id) const
{
	if (cgroup_id == 0 || cgroup_id > cgroups_.size())
		return "";
	return cgroups_[cgroup_id - 1];
}

std::string SimMachine::describe() const
{
	std::string tick = tick_ns_ ? "slices end on " + std::to_string(tick_ns_ / 1000) + " us ticks"
				    : "exact slices";
	return "sim: " + std::to_string(nr_cpus()) + " CPUs, " + std::to_string(threads_.size()) + " threads from " +
	       source_ + ", slice " + std::to_string(cfg_.slice_us) + " us, " + tick + ", starve " +
	       std::to_string(cfg_.starve_ms) + " ms, compensation " + (cfg_.compensation ? "on" : "off") +
	       ", default tickets " + std::to_string(cfg_.default_tickets) + ", seed " +
	       std::to_string(cfg_.sim_seed);
}

} // namespace lotto::sim

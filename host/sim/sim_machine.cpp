#include "sim/sim_machine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
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
	: cfg_(cfg), slice_ns_(uint64_t(cfg.slice_us) * 1000), latency_ns_(uint64_t(cfg.latency_us) * 1000),
	  min_run_ns_(uint64_t(cfg.min_run_us) * 1000), starve_ns_(uint64_t(cfg.starve_ms) * 1000000),
	  slots_(std::move(slots)), rq_(std::move(rq)), cpus_(nr_cpus), idle_(nr_cpus)
{
	rng_.s = cfg.sim_seed;
	stall_rng_.s = ~cfg.sim_seed;
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
	m->stall_pct_ = w.stall_pct;
	m->stall_mean_ns_ = w.stall_mean_ns;
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
	std::map<std::string, uint32_t> weights;
	for (const CgroupSpec &c : w.cgroups)
		weights[c.path] = c.weight;
	// a cgroup gets its id after its parent's, as the kernel creates them
	std::function<uint64_t(const std::string &)> cgroup_id = [&](const std::string &path) -> uint64_t {
		if (auto it = ids.find(path); it != ids.end())
			return it->second;
		uint64_t parent = 0;
		if (size_t cut = path.find_last_of('/'); path != "/" && cut != std::string::npos)
			parent = cgroup_id(cut ? path.substr(0, cut) : "/");
		auto [it, fresh] = ids.emplace(path, cgroups_.size() + 1);
		if (fresh) {
			cgroups_.push_back(path);
			// a cgroup below the root is a group (gid = id - 1), funded
			// by its cpu.weight, under its parent's group
			uint64_t id = it->second;
			if (cfg_.cgroups && id > 1 && id < LOTTO_CGROUP_GROUPS) {
				uint32_t gid = uint32_t(id - 1);
				tree_.add(gid, parent > 1 && parent < LOTTO_CGROUP_GROUPS ? uint32_t(parent - 1) : 0);
				uint32_t wt = weights.count(path) ? weights[path] : LOTTO_FUNDING_DEFAULT;
				gid_weight_[gid] = wt;
				lotto_group_stat &g = slots_.group(gid);
				g.kind = LOTTO_GROUP_CGROUP;
				g.cgroup_id = id;
				g.weight = wt;
				g.funding = wt;
				g.gen = 1;
			}
		}
		return it->second;
	};
	cgroup_id("/");
	for (const CgroupSpec &c : w.cgroups)
		cgroup_id(c.path);	// in file order, before the tasks' own
	specs_ = w.tasks;
	threads_.reserve(w.nr_threads());
	for (uint32_t s = 0; s < specs_.size(); s++) {
		const TaskSpec &spec = specs_[s];
		spec_cgroup_.push_back(cgroup_id(spec.cgroup));
		// a cgroup below the root is a group, funded by its cpu.weight
		uint64_t id = spec_cgroup_.back();
		uint32_t gid = cfg_.cgroups && id > 1 && id < LOTTO_CGROUP_GROUPS ? uint32_t(id - 1) : 0;
		spec_gid_.push_back(gid);
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
	// each client thread gets a server thread of its own, in file order
	// (parse_workload checked there are enough)
	std::map<std::string, std::vector<uint32_t>> servers;
	for (uint32_t t = 0; t < threads_.size(); t++)
		if (specs_[threads_[t].spec].serve_ns)
			servers[specs_[threads_[t].spec].name].push_back(t);
	std::map<std::string, size_t> next;
	for (uint32_t t = 0; t < threads_.size(); t++) {
		const std::string &call = specs_[threads_[t].spec].call;
		if (call.empty())
			continue;
		uint32_t srv = servers[call][next[call]++];
		threads_[t].peer = srv;
		threads_[srv].peer = t;
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
			slots_.set_ctl(*slot, th.pid, spec.tickets);
			slots_.at(*slot).tickets = spec.tickets;
		}
	} else {
		cpus_[0].stat[LOTTO_STAT_NO_SLOT]++;
	}
	alive_++;
	th.used = lotto_first_used_ns(min_run_ns_);	// no history yet
	th.tickets = th.slot != kNoSlot ? slots_.tickets_for(th.slot, th.pid, cfg_.default_tickets)
					 : cfg_.default_tickets;
	th.sleep.pid = th.pid;
	if (spec.serve_ns && !spec.tail_ns && !th.call_waiting) {
		th.state = ThreadState::Sleeping;	// until its client calls
		th.sleep.asleep = 1;
		return;
	}
	th.in_tail = spec.tail_ns > 0;	// a server runs its tail before its first read
	if (!th.in_tail)
		th.call_waiting = false;	// a call that came before it started: served now
	wake(t);
}

// t becomes runnable; `waker`: the running thread that woke it (a call or a
// reply), -1 for a timer; `waker_sleeps`: it blocks right after (its CPU is
// then no candidate for a wake-up preemption)
void SimMachine::wake(uint32_t t, int64_t waker, bool waker_sleeps)
{
	Thread &th = threads_[t];
	const TaskSpec &spec = specs_[th.spec];
	if (waker >= 0)
		xfer_note_waker(t, uint32_t(waker));
	runnable(t);
	th.sleep.asleep = 0;
	th.burst_left = th.in_tail	    ? spec.tail_ns
			: spec.serve_ns ? spec.serve_ns
			: spec.run_ns	    ? spec.run_ns
					    : kNever;
	th.enq_ns = now_;
	int64_t c = idle_cpu_for(t);
	if (c >= 0) {
		cpus_[c].stat[LOTTO_STAT_DIRECT]++;
		if (th.slot != kNoSlot)
			slots_.at(th.slot).tickets = slots_.tickets_for(th.slot, th.pid, cfg_.default_tickets);
		th.used = 0;	// as the core's select_cpu: no draw, nothing to charge
		run_on(uint32_t(c), t, false);
		return;
	}
	enter(t, th.last_cpu);
	th.woken = true;
	if (cfg_.preempt != LOTTO_PREEMPT_OFF)
		wake_preempt(t, waker >= 0 && waker_sleeps ? threads_[size_t(waker)].cpu : -1);
}

// A woken task found no idle CPU: the CPU lotto_victim_score picks among
// those it may use draws early (lotto_wake_action), as in the core; not
// skip_cpu, whose task woke it and sleeps now (that CPU draws at once).
void SimMachine::wake_preempt(uint32_t t, int64_t skip_cpu)
{
	const Thread &th = threads_[t];
	const CpuSet &allowed = rq_.group_cpus(th.group);
	int64_t best = -1;
	uint64_t best_score = 0, best_ran = 0;
	for (uint32_t i = 0; i < nr_cpus(); i++) {
		uint32_t c = (th.last_cpu + i) % nr_cpus();
		if (!allowed.test(c) || int64_t(c) == skip_cpu)
			continue;
		bool running = cpus_[c].cur >= 0;
		uint64_t start = running ? threads_[size_t(cpus_[c].cur)].run_start : 0;
		uint64_t ran = running ? now_ - start : 0;
		int asked = running && lotto_early_draw_asked(cpus_[c].woke_at, start);
		uint64_t score = lotto_victim_score(ran, running, asked, c == th.last_cpu, min_run_ns_);
		if (score > best_score) {
			best_score = score;
			best_ran = ran;
			best = c;
		}
	}
	if (best_score)
		cpus_[size_t(best)].woke_at = now_;	// short quanta until it runs
	switch (lotto_wake_action(best_score, best_ran, min_run_ns_)) {
	case LOTTO_WAKE_NOW:
		cpus_[size_t(best)].stat[LOTTO_STAT_WAKE_PREEMPTS]++;
		end_stint_at(uint32_t(best), cfg_.preempt == LOTTO_PREEMPT_KICK ? now_ : tick_after(now_));
		break;
	case LOTTO_WAKE_SHRINK: {
		cpus_[size_t(best)].stat[LOTTO_STAT_WAKE_SHRINKS]++;
		uint64_t at = now_ + (min_run_ns_ - best_ran);	// kick: its timer, exactly
		end_stint_at(uint32_t(best), cfg_.preempt == LOTTO_PREEMPT_KICK ? at : tick_after(at));
		break;
	}
	case LOTTO_WAKE_NONE:
		break;
	}
}

// Move the running stint's end on `cpu` earlier (never later).
void SimMachine::end_stint_at(uint32_t cpu, uint64_t t)
{
	Cpu &c = cpus_[cpu];
	if (c.cur < 0 || t >= c.end)
		return;
	c.end = t;
	push(t, Ev::StintEnd, cpu, ++c.token);
}

uint64_t SimMachine::tick_after(uint64_t t) const
{
	if (!tick_ns_)
		return t;
	return (t + tick_ns_ - 1) / tick_ns_ * tick_ns_;
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
		rq_.erase({th.key, th.enq_ns, t, th.group, th.cur});
		break;
	case ThreadState::Running:
		th.r.runtime_ns += now_ - th.stint_start;
		freed_cpu = th.cpu;
		cpus_[th.cpu].token++;
		set_cur(uint32_t(th.cpu), -1);
		th.cpu = -1;
		break;
	}
	quiescent(t);
	if (th.slot != kNoSlot)
		slots_.release(th.slot);
	th.slot = kNoSlot;
	th.state = ThreadState::Exited;
	alive_--;
	if (freed_cpu >= 0)
		dispatch(uint32_t(freed_cpu), -1, false);
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
	th.used += used;
	lotto_group_stat &g = slots_.group(th.cur);
	g.runtime_ns += used;
	if (th.cur >= LOTTO_POLICY_GROUP_BASE)	// also when it only ever ran on idle CPUs
		g.kind = LOTTO_GROUP_POLICY;
	bool expired = used >= th.granted;
	if (th.burst_left != kNever)
		th.burst_left -= std::min(used, th.burst_left);
	if (th.burst_left == 0 && spec.tail_ns && !th.in_tail) {
		// a server with a tail replies and goes on running
		th.in_tail = true;
		th.burst_left = spec.tail_ns;
		keep_running(cpu, t, used, true);
		return;
	}
	if (th.burst_left == 0 && th.in_tail) {
		th.in_tail = false;
		if (th.call_waiting) {	// the next call is there: no sleep
			th.call_waiting = false;
			th.burst_left = spec.serve_ns;
			keep_running(cpu, t, used, false);
			return;
		}
	} else if (th.burst_left == 0 && (spec.sleep_ns > 0 || spec.serve_ns || !spec.call.empty())) {
		// a call wakes the server, a reply the client, while this thread
		// still holds its CPU; then it sleeps (until the reply, the next
		// call, or its timer) and the task it woke draws with its tickets.
		// A server still running (in its tail) finds the call when it reads.
		if (th.peer != UINT32_MAX && threads_[th.peer].state == ThreadState::Sleeping)
			wake(th.peer, t);
		else if (th.peer != UINT32_MAX && !spec.call.empty())
			threads_[th.peer].call_waiting = true;
	}
	if (th.burst_left == 0 && (spec.sleep_ns > 0 || spec.serve_ns || !spec.call.empty())) {
		go_to_sleep(cpu, t);
		if (spec.sleep_ns)
			push(now_ + spec.sleep_ns, Ev::Wake, t, ++th.wake_token);
		xfer_redraw(cpu, t);
		dispatch(cpu, -1, false);
		return;
	}
	if (th.burst_left == 0) {
		th.burst_left = spec.run_ns;	// sched_yield(): still runnable, quantum given up
		expired = false;
	}
	th.stint_start = now_;	// charged up to here; run_on() restarts it
	sync_slot(t);
	dispatch(cpu, t, expired);
}

// A server's burst ended after `used` of this stint and it goes on
// (burst_left set): with `reply`, it first wakes its client, whose wake-up
// may cut its quantum short (as on the kernel: the server is preempted in
// its send or before its next read). Then it keeps the rest of its
// quantum (to q_end, as run_on set it), or draws if that is over. Its
// quantum's start (run_start) stays: a wake-up sees how long it has run.
void SimMachine::keep_running(uint32_t cpu, uint32_t t, uint64_t used, bool reply)
{
	Thread &th = threads_[t];
	Cpu &c = cpus_[cpu];
	bool expired = used >= th.granted || now_ >= th.q_end;
	th.granted = expired ? 0 : th.q_end - now_;	// what is left of its quantum
	c.end = now_ + th.granted;
	if (reply && th.peer != UINT32_MAX && threads_[th.peer].state == ThreadState::Sleeping)
		wake(th.peer, t, false);	// may pull c.end in
	th.stint_start = now_;	// charged up to here
	sync_slot(t);
	if (c.end <= now_) {
		dispatch(cpu, t, expired);
		return;
	}
	c.end = std::min(c.end, sat_add(now_, th.burst_left));
	push(c.end, Ev::StintEnd, cpu, ++c.token);
}

void SimMachine::go_to_sleep(uint32_t cpu, uint32_t t)
{
	Thread &th = threads_[t];
	th.state = ThreadState::Sleeping;
	th.cpu = -1;
	th.credit = 0;	// credit is for a task that stays runnable
	quiescent(t);
	set_cur(cpu, -1);
	sync_slot(t);
	th.sleep.asleep = 1;	// it funds the task it points at from now on
	th.sleep.gid = th.cur;
	th.fund = {};		// and its own funders end
}

// ---------------------------------------------------------------- transfers

// thread t may receive transfers at all (its group at its last draw or run)
bool SimMachine::xfer_may(uint32_t t)
{
	return cfg_.transfers || (slots_.group_ctl()[threads_[t].cur].flags & LOTTO_GROUP_F_TRANSFERS);
}

// waker woke t: the two point at each other (lotto_rules.h); each edge only
// where its receiver takes transfers
void SimMachine::xfer_note_waker(uint32_t t, uint32_t waker)
{
	Thread &th = threads_[t];
	if (xfer_may(t) && threads_[waker].slot != kNoSlot)
		xfer_point(waker, t);
	if (xfer_may(waker) && th.slot != kNoSlot) {
		th.sleep.asleep = 0;	// it runs from now on
		xfer_point(t, waker);
	}
}

// thread `from` now points at `to`: it funds it whenever it sleeps, and is
// recorded as its funder
void SimMachine::xfer_point(uint32_t from, uint32_t to)
{
	Thread &f = threads_[from], &th = threads_[to];
	f.sleep.woke = th.pid;
	f.woke = to;
	int use[LOTTO_FUNDERS];
	for (int i = 0; i < LOTTO_FUNDERS; i++) {
		uint32_t fp = th.fund[i].pid;
		use[i] = !fp || fp - kFirstPid >= threads_.size()
				 ? LOTTO_FUNDER_STALE
				 : lotto_funder_use(&threads_[fp - kFirstPid].sleep, fp, th.pid);
	}
	lotto_funder_note(th.fund.data(), use, &th.fnext, f.pid, f.slot);
}

// the tickets t's sleeping funders add for a draw in group gid (own: its own)
uint32_t SimMachine::xfer_tickets(uint32_t t, uint32_t gid, uint32_t own)
{
	Thread &th = threads_[t];
	uint32_t gflags = slots_.group_ctl()[gid].flags, by = 0;
	uint64_t sum = 0;
	if (cfg_.transfers || (gflags & LOTTO_GROUP_F_TRANSFERS)) {
		for (const lotto_funder &f : th.fund) {
			if (!f.pid || f.pid - kFirstPid >= threads_.size())
				continue;
			const lotto_sleep &s = threads_[f.pid - kFirstPid].sleep;
			if (!lotto_funder_counts(&s, f.pid, th.pid) ||
			    !lotto_transfer_allowed(cfg_.transfers, s.gid, gid, gflags))
				continue;
			sum += slots_.tickets_for(f.slot, f.pid, cfg_.default_tickets);
			if (!by)
				by = f.pid;
		}
	}
	uint32_t total = lotto_tickets_funded(own, sum);
	if (th.slot != kNoSlot) {
		slots_.at(th.slot).funded_by = by;
		slots_.at(th.slot).funded_tickets = total - own;
	}
	if (by)
		cpus_[th.last_cpu].stat[LOTTO_STAT_TRANSFERS]++;
	return total;
}

// `sleeper` went to sleep on cpu: the thread it points at, if that one
// waits and its tickets changed, draws afresh (exact by memorylessness)
void SimMachine::xfer_redraw(uint32_t cpu, uint32_t sleeper)
{
	uint32_t x = threads_[sleeper].woke;
	if (x == UINT32_MAX || threads_[x].state != ThreadState::Waiting)
		return;
	Thread &th = threads_[x];
	uint32_t old = th.tickets;
	uint32_t t = tickets_of(x, th.fdraw, th.cur);
	if (t == old)
		return;
	uint64_t base = th.cur ? rq_.inner_vtime(th.group, th.cur) : rq_.vtime(th.group);
	uint64_t key = base + lotto_key_delta(lotto_rng_next(&rng_), t, th.fdraw);
	rq_.rekey_task({th.key, th.enq_ns, x, th.group, th.cur}, key);
	th.key = key;
	cpus_[cpu].stat[LOTTO_STAT_XFER_REDRAWS]++;
}

// ---------------------------------------------------------------- the lottery

// f for t's next draw: the CPU it used since its last one, against the slice
uint32_t SimMachine::comp_of(uint32_t t) const
{
	return cfg_.compensation ? lotto_comp_q10(threads_[t].used, slice_ns_) : LOTTO_COMP_ONE;
}

// tickets in force for t's next draw in group gid: its own (noted in its
// slot, with f) and what sleeping funders add
uint32_t SimMachine::tickets_of(uint32_t t, uint32_t f, uint32_t gid)
{
	Thread &th = threads_[t];
	uint32_t own = cfg_.default_tickets;
	if (th.slot != kNoSlot) {
		own = slots_.tickets_for(th.slot, th.pid, cfg_.default_tickets);
		lotto_task_stat &s = slots_.at(th.slot);
		s.tickets = own;
		s.comp_q10 = f;
	}
	th.tickets = xfer_tickets(t, gid, own);
	return th.tickets;
}

// t's group now: the policy group user space put it in, else its cgroup's
uint32_t SimMachine::group_of(uint32_t t) const
{
	const Thread &th = threads_[t];
	if (th.slot != kNoSlot)
		if (uint32_t g = slots_.policy_group_for(th.slot, th.pid))
			return g;
	return spec_gid_[th.spec];
}

// a group's own funding: user space's, else its cgroup's cpu.weight (the
// core's group_weight)
uint32_t SimMachine::weight_of(uint32_t gid) const
{
	if (uint32_t f = slots_.funding_for(gid))
		return f;
	auto it = gid_weight_.find(gid);
	return it != gid_weight_.end() ? it->second : LOTTO_FUNDING_DEFAULT;
}

// what a group races with at the top, charged f: its top-level cgroup's
// funding and f scaled by its share of it (the core's group_rate)
SimMachine::Rate SimMachine::rate_of(uint32_t gid, uint32_t f)
{
	CgroupTree::Rate r = tree_.rate(gid);
	uint32_t funding = weight_of(r.top);
	lotto_group_stat &g = slots_.group(gid);
	g.funding = lotto_share_funding(funding, r.share);
	if (gid >= LOTTO_POLICY_GROUP_BASE)
		g.kind = LOTTO_GROUP_POLICY;
	return {funding, lotto_share_comp(f, r.share)};
}

// the residual of an outer draw for t's group (or for t itself in the root)
uint64_t SimMachine::outer_delta(uint32_t gid, uint32_t tickets, uint32_t f)
{
	if (!gid)
		return lotto_key_delta(lotto_rng_next(&rng_), tickets, f);
	Rate r = rate_of(gid, f);
	return lotto_key_delta(lotto_rng_next(&rng_), r.funding, r.comp);
}

// t becomes runnable / stops being runnable: its count in its cgroups (the
// core's ops.runnable and ops.quiescent)
void SimMachine::runnable(uint32_t t)
{
	Thread &th = threads_[t];
	if (th.hrun)
		return;
	uint32_t gid = group_of(t);
	th.hrun = true;
	th.hgid = gid < LOTTO_CGROUP_GROUPS ? gid : 0;
	tree_.count(th.hgid, 1);
}

// t starts to run in group gid: it counts in its cgroup only while it races
// there (the core's hier_follow)
void SimMachine::follow(uint32_t t, uint32_t gid)
{
	Thread &th = threads_[t];
	uint32_t want = gid < LOTTO_CGROUP_GROUPS ? gid : 0;
	if (!th.hrun || want == th.hgid)
		return;
	tree_.count(th.hgid, -1);
	th.hgid = want;
	tree_.count(want, 1);
}

void SimMachine::quiescent(uint32_t t)
{
	Thread &th = threads_[t];
	if (!th.hrun)
		return;
	tree_.count(th.hgid, -1);
	th.hrun = false;
	th.hgid = 0;
}

// t joins the queues: a root task with its key on V_d; a group's task with
// its key on V_g, the group joining the outer race if nothing of it waited
// (with `outer`, a key already drawn for it on V_d, else a fresh one)
void SimMachine::enqueue(uint32_t t, uint32_t gid, uint64_t key, std::optional<uint64_t> outer, uint32_t on_cpu)
{
	Thread &th = threads_[t];
	th.state = ThreadState::Waiting;
	th.cpu = -1;
	th.key = key;
	th.cur = gid;
	th.enq_ns = now_;
	rq_.push({key, now_, t, th.group, gid});
	if (gid && !rq_.active(th.group, gid)) {
		uint64_t k = outer ? *outer : rq_.vtime(th.group) + outer_delta(gid, 0, th.fdraw);
		k += rq_.take_debt(th.group, gid);	// wins its running tasks took
		rq_.activate(th.group, gid, k);
	}
	cpus_[on_cpu].stat[LOTTO_STAT_ENQUEUES]++;
}

// a fresh draw for t (woken, rescued, or re-queued): charged what it used
void SimMachine::enter(uint32_t t, uint32_t on_cpu)
{
	Thread &th = threads_[t];
	uint32_t f = comp_of(t);
	uint32_t gid = group_of(t);
	uint32_t tickets = tickets_of(t, f, gid);
	th.used = 0;
	th.fdraw = f;
	uint64_t base = gid ? rq_.inner_vtime(th.group, gid) : rq_.vtime(th.group);
	enqueue(t, gid, base + lotto_key_delta(lotto_rng_next(&rng_), tickets, f), std::nullopt, on_cpu);
}

// Take the winner of a draw on `cpu` out of the queues (top.d has already
// moved V_d): a root task, or a group's task with the smallest inner
// residual (V_g moves by it, and the group draws its next outer key).
uint32_t SimMachine::take(uint32_t cpu, const RunQueue::Top &top)
{
	if (top.cur == 0) {
		rq_.erase(top.entry);
		return top.entry.task;
	}
	auto h = rq_.inner_head(top.group, top.cur);
	rq_.advance_inner(top.group, top.cur, h->key - rq_.inner_vtime(top.group, top.cur));
	rq_.erase(*h);
	group_won(cpu, top.group, top.cur, threads_[h->task].fdraw);
	return h->task;
}

// group gid won a draw in domain d: its next outer key if tasks of it wait
void SimMachine::group_won(uint32_t, uint32_t d, uint32_t gid, uint32_t f)
{
	slots_.group(gid).wins++;
	if (rq_.active(d, gid))
		rq_.rekey(d, gid, rq_.vtime(d) + outer_delta(gid, 0, f));
}

// the sum of the tickets of gid's tasks running now
uint32_t SimMachine::running_tickets(uint32_t gid) const
{
	uint64_t sum = 0;
	for (const Cpu &c : cpus_)
		if (c.cur >= 0 && threads_[size_t(c.cur)].cur == gid)
			sum += threads_[size_t(c.cur)].tickets;
	return uint32_t(std::min<uint64_t>(sum, UINT32_MAX));
}

// Catch-up (lotto_rules.h): the wins prev's race had while it ran. A root
// task's race is on V_d. A group's task: its race inside the group on V_g,
// plus, for the time its group was out of the outer race (nothing of it
// waiting, so its tasks ran), the group's own race thinned to this task's
// share of the group's running tickets.
void SimMachine::catch_up(uint32_t cpu, uint32_t p, uint32_t gid, uint32_t tickets, uint32_t f)
{
	Thread &th = threads_[p];
	uint32_t room = LOTTO_CATCHUP_MAX - std::min<uint32_t>(th.credit, LOTTO_CATCHUP_MAX);
	uint32_t n = 0;
	if (gid == 0) {
		uint64_t v = rq_.vtime(th.group);
		n = lotto_catchup(lotto_residual(v, th.pos), tickets, f, room, &rng_);
	} else if (gid == th.cur) {
		uint64_t vg = rq_.inner_vtime(th.group, gid), ab = rq_.absent(th.group, gid);
		// wins inside its group, each of which took one of the group's own
		// wins from a waiting task: the group's race is charged for them
		uint32_t in = lotto_catchup(lotto_residual(vg, th.ipos), tickets, f, room, &rng_);
		uint64_t push = 0;
		for (uint32_t i = 0; i < in; i++)
			push += outer_delta(gid, 0, f);	// charged this task's f
		if (in && rq_.active(th.group, gid))
			rq_.rekey(th.group, gid, rq_.outer_key(th.group, gid) + push);
		else if (in)
			rq_.add_debt(th.group, gid, push);	// its race, while out
		// wins of the group's own race while nothing of it waited (less
		// what its debt pushed it back over), this task's share of them
		Rate r = rate_of(gid, f);
		uint32_t thin = lotto_thin_funding(r.funding, tickets, running_tickets(gid));
		uint32_t out = lotto_catchup(lotto_residual(ab, th.apos), thin, r.comp, room - in, &rng_);
		n = in + out;
	}
	th.credit += n;
	cpus_[cpu].stat[LOTTO_STAT_CATCHUP] += n;
}

// CPU `cpu` needs a task. `prev`, -1 if it blocked or exited, is still
// runnable; `expired`: its quantum ran out by itself.
void SimMachine::dispatch(uint32_t cpu, int64_t prev, bool expired)
{
	Cpu &c = cpus_[cpu];
	if (auto o = rq_.oldest(cpu); o && now_ - o->enq_ns >= starve_ns_) {
		// starvation guard: run the longest waiter whatever its key
		rq_.erase(*o);
		c.stat[LOTTO_STAT_RESCUES]++;
		c.stat[LOTTO_STAT_DISPATCHES]++;
		threads_[o->task].r.rescues++;
		if (prev >= 0)
			enter(uint32_t(prev), cpu);
		run_on(cpu, o->task, false);
		if (prev >= 0)
			kick_idle(uint32_t(prev));
		return;
	}
	auto top = rq_.top(cpu);
	if (prev < 0) {
		if (!top)
			return;	// stays idle
		rq_.advance(cpu, top->d);
		c.stat[LOTTO_STAT_DRAWS]++;
		c.stat[LOTTO_STAT_DISPATCHES]++;
		run_on(cpu, take(cpu, *top), false);
		return;
	}

	uint32_t p = uint32_t(prev);
	Thread &th = threads_[p];
	uint32_t f = comp_of(p);
	uint32_t gid = group_of(p);
	uint32_t tickets = tickets_of(p, f, gid);
	if (cfg_.catchup)
		catch_up(cpu, p, gid, tickets, f);
	uint32_t pinned = rq_.waiting_pinned(cpu);
	switch (lotto_prev_action(rq_.waiting_shared() + pinned > 0, pinned > 0, th.credit, expired)) {
	case LOTTO_PREV_ALONE:
		c.stat[LOTTO_STAT_ALONE]++;
		th.used = 0;
		run_on(cpu, p, true, false);
		return;
	case LOTTO_PREV_CREDIT:
		th.credit--;
		c.stat[LOTTO_STAT_CREDIT_RUNS]++;
		th.used = 0;
		run_on(cpu, p, true);
		return;
	case LOTTO_PREV_DRAW:
		break;
	}
	if (!top) {
		c.stat[LOTTO_STAT_ALONE]++;	// the waiting tasks may not run here
		th.used = 0;
		run_on(cpu, p, true, false);
		return;
	}
	// the draw. prev's outer residual: its own (root), its group's key if
	// the group is in the race, else a fresh one for the group
	th.used = 0;
	th.fdraw = f;
	c.stat[LOTTO_STAT_DRAWS]++;
	uint32_t d = th.group;
	bool in_race = gid && rq_.active(d, gid);
	uint64_t po = in_race ? rq_.residual(d, rq_.outer_key(d, gid)) : outer_delta(gid, tickets, f);
	uint64_t pi = gid ? lotto_key_delta(lotto_rng_next(&rng_), tickets, f) : 0;	// inside its group
	// prev's side wins the outer draw: its own residual is smallest, or its
	// group, in the race, is the smallest entry (then the inner race decides)
	bool prev_side = lotto_key_before(po, top->d) || (in_race && top->group == d && top->cur == gid);
	if (!in_race && gid)
		rq_.represented(d, gid, prev_side ? po : top->d);
	if (prev_side) {
		rq_.advance(cpu, po);
		if (gid) {
			uint64_t vg = rq_.inner_vtime(d, gid);
			auto h = rq_.inner_head(d, gid);
			if (h && lotto_key_before(h->key - vg, pi)) {
				// a waiting task of prev's group wins inside it
				rq_.advance_inner(d, gid, h->key - vg);
				rq_.erase(*h);
				group_won(cpu, d, gid, threads_[h->task].fdraw);
				enqueue(p, gid, vg + pi, std::nullopt, cpu);
				c.stat[LOTTO_STAT_DISPATCHES]++;
				run_on(cpu, h->task, false);
				kick_idle(p);
				return;
			}
			if (h)	// an inner race was run: its clock moves
				rq_.advance_inner(d, gid, pi);
			group_won(cpu, d, gid, f);
		}
		c.stat[LOTTO_STAT_PREV_WINS]++;
		th.cur = gid;
		run_on(cpu, p, true);
		return;
	}
	// a waiting task or group wins; prev goes back with the draw it made
	uint64_t vd = rq_.vtime(d);
	uint64_t vg = gid ? rq_.inner_vtime(d, gid) : 0;
	rq_.advance(cpu, top->d);
	uint32_t w = take(cpu, *top);
	if (gid)
		enqueue(p, gid, vg + pi, in_race ? std::nullopt : std::optional<uint64_t>(vd + po), cpu);
	else
		enqueue(p, 0, vd + po, std::nullopt, cpu);
	c.stat[LOTTO_STAT_DISPATCHES]++;
	run_on(cpu, w, false);
	kick_idle(p);
}

// the quantum of a task starting (or keeping) its run on `cpu` now
uint64_t SimMachine::quantum(uint32_t cpu) const
{
	// as everything wake-ups do, only with wake-up preemption on
	bool woken = cfg_.preempt != LOTTO_PREEMPT_OFF &&
		     (lotto_wake_pending(now_, cpus_[cpu].woke_at, latency_ns_) ||
		      rq_.any_head(cpu, [&](uint32_t t) { return threads_[t].woken; }));
	return lotto_slice_ns(latency_ns_, min_run_ns_, slice_ns_, rq_.waiting_shared(), rq_.waiting_pinned(cpu),
			      nr_cpus(), woken);
}

// Start (or, with `refill`, continue) thread t on cpu for one quantum; `won`:
// it counts as a win (not for a quantum renewed because nothing else waits).
void SimMachine::run_on(uint32_t cpu, uint32_t t, bool refill, bool won)
{
	Thread &th = threads_[t];
	if (!refill) {
		uint64_t wait = now_ - th.enq_ns;
		th.r.wait_ns += wait;
		th.r.wait_max_ns = std::max(th.r.wait_max_ns, wait);
		th.r.waits++;
		th.state = ThreadState::Running;
		if (th.woken)
			cpus_[cpu].woke_at = 0;	// the woken task runs
		th.woken = false;
		th.cpu = int32_t(cpu);
		th.last_cpu = cpu;
		set_cur(cpu, t);
		if (!th.ran.test(cpu)) {
			th.ran.set(cpu);
			th.r.cpus_used++;
		}
	}
	if (won || !refill)
		th.r.wins++;
	th.stint_start = now_;
	th.granted = quantum(cpu);
	if (!refill)
		th.cur = group_of(t);
	follow(t, group_of(t));
	th.pos = rq_.vtime(th.group);
	th.ipos = rq_.inner_vtime(th.group, th.cur);
	th.apos = rq_.absent(th.group, th.cur);
	// a quantum shorter than the slice has a timer of its own (lotto_qtimers)
	uint64_t end = lotto_quantum_timed(th.granted, slice_ns_) ? now_ + th.granted : tick_after(now_ + th.granted);
	th.run_start = now_;
	th.q_end = end;
	end = std::min(end, sat_add(now_, th.burst_left));
	// held up: the task is charged the time, as the guest's clock does
	if (stall_pct_ && lotto_rng_next(&stall_rng_) % 100 < stall_pct_) {
		double u = (lotto_rng_next(&stall_rng_) + 1.0) / 4294967296.0;
		end = sat_add(end, uint64_t(-std::log(u) * double(stall_mean_ns_)));
	}
	cpus_[cpu].end = end;
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
		dispatch(uint32_t(c), -1, false);
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
	s.group = th.cur;
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
	slots_.set_ctl(*slot, pid, tickets);
	return true;
}

bool SimMachine::set_cgroup_weight(const std::string &path, uint32_t weight)
{
	for (uint32_t gid = 1; gid <= cgroups_.size() && gid < LOTTO_CGROUP_GROUPS; gid++) {
		if (cgroups_[gid] != path || !gid_weight_.count(gid))
			continue;
		gid_weight_[gid] = weight;
		slots_.group(gid).weight = weight;
		tree_.count(gid, 0);	// its parent's active weight follows
		return true;
	}
	return false;
}

bool SimMachine::set_group(uint32_t pid, uint32_t gid)
{
	auto slot = slot_of(pid);
	if (!slot)
		return false;
	__atomic_store_n(reinterpret_cast<uint64_t *>(&slots_.task_groups()[*slot]), lotto_task_group_pack(pid, gid),
			 __ATOMIC_RELAXED);
	return true;
}

void SimMachine::set_funding(uint32_t gid, uint32_t funding)
{
	__atomic_store_n(&slots_.group_ctl()[gid].funding, funding, __ATOMIC_RELAXED);
}

void SimMachine::set_group_flags(uint32_t gid, uint32_t flags)
{
	__atomic_store_n(&slots_.group_ctl()[gid].flags, flags, __ATOMIC_RELAXED);
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
	std::string tick = tick_ns_ ? "quanta end on " + std::to_string(tick_ns_ / 1000) + " us ticks"
				    : "exact quanta";
	if (stall_pct_)
		tick += ", " + std::to_string(stall_pct_) + "% of quanta held up by " +
			std::to_string(stall_mean_ns_ / 1000) + " us on average";
	return "sim: " + std::to_string(nr_cpus()) + " CPUs, " + std::to_string(threads_.size()) + " threads from " +
	       source_ + ", " + tick + ", " + describe_timing(cfg_) + ", seed " + std::to_string(cfg_.sim_seed);
}

} // namespace lotto::sim

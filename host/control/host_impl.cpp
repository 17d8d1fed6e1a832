#include "control/host_impl.h"

extern "C" {
#include "bpf/lotto_math.h"
}

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fnmatch.h>

namespace lotto::control {

static HostError herr(ErrorCode c, std::string m) { return HostError{c, std::move(m)}; }

static std::string absolute_path(const std::string &p)
{
	std::error_code ec;
	auto a = std::filesystem::absolute(p, ec);
	return ec ? p : a.lexically_normal().string();
}

static std::string comm_of(const lotto_task_stat &s)
{
	size_t n = 0;
	while (n < LOTTO_COMM_LEN && s.comm[n])
		n++;
	return std::string(s.comm, n);
}

HostImpl::HostImpl(Backend &backend, TicketBook &book, PolicyApi *policies, StateKeeper *state, std::string version,
		   uint32_t default_tickets, GroupBook *groups)
	: b_(backend), book_(book), policies_(policies), state_(state), gbook_(groups), version_(std::move(version)),
	  default_tickets_(default_tickets), started_(Clock::now())
{
}

Result<void> HostImpl::start_sampler(EventLoop &loop, std::chrono::milliseconds interval)
{
	stop_sampler();
	sample();
	auto id = loop.add_timer(interval, [this](uint64_t) { sample(); });
	if (!id)
		return id.error();
	loop_ = &loop;
	timer_ = *id;
	return {};
}

void HostImpl::stop_sampler()
{
	if (loop_)
		loop_->remove(timer_);
	loop_ = nullptr;
	timer_ = 0;
}

void HostImpl::sample()
{
	auto now = Clock::now();
	uint32_t n = b_.slots_hw();
	const lotto_task_stat *t = b_.tasks();
	if (prev_.size() < n) {
		prev_.resize(n);
		delta_.resize(n);
	}
	for (uint32_t i = 0; i < n; i++) {
		const lotto_task_stat &s = t[i];
		RuntimeMark &p = prev_[i];
		if (!s.pid) {
			p = RuntimeMark{};
			delta_[i] = 0;
			continue;
		}
		delta_[i] = sampled_ ? p.since(s.pid, s.gen, s.runtime_ns) : 0;
		p = RuntimeMark{s.runtime_ns, s.gen, s.pid};
	}
	for (size_t i = n; i < prev_.size(); i++) {
		prev_[i] = RuntimeMark{};
		delta_[i] = 0;
	}
	uint64_t draws = b_.stats().total[LOTTO_STAT_DRAWS];
	if (sampled_) {
		interval_s_ = std::chrono::duration<double>(now - last_sample_).count();
		draws_per_s_ = interval_s_ > 0 && draws >= prev_draws_ ? (draws - prev_draws_) / interval_s_ : 0;
	}
	prev_draws_ = draws;
	last_sample_ = now;
	sampled_ = true;
}

uint32_t HostImpl::tickets_of(uint32_t slot, const lotto_task_stat &s) const
{
	if (uint32_t e = book_.effective(slot))
		return e;
	if (s.tickets)
		return s.tickets;
	return default_tickets_;
}

TaskRow HostImpl::row_of(uint32_t slot, const lotto_task_stat &s)
{
	TaskRow r;
	r.pid = s.pid;
	r.tgid = s.tgid;
	r.comm = comm_of(s);
	r.uid = s.uid;
	r.user = users_.name(s.uid);
	r.nice = s.nice;
	r.tickets = tickets_of(slot, s);
	r.source = book_.source(slot);
	r.pinned = book_.pins().count(s.pid) != 0;
	if (auto b = book_.boosts().find(s.pid); b != book_.boosts().end())
		if (!b->second.until || *b->second.until > Clock::now())
			r.boost = b->second.factor;
	r.runtime_ns = s.runtime_ns;
	// delta_ belongs to the task only if the slot still holds the sampled task
	if (slot < prev_.size() && prev_[slot].same_task(s.pid, s.gen))
		r.delta_ns = delta_[slot];
	r.cpu_pct = interval_s_ > 0 ? 100.0 * (double)r.delta_ns / (interval_s_ * 1e9) : 0;
	r.wins = s.wins;
	r.waits = s.waits;
	r.wait_avg_ns = s.waits ? s.wait_ns / s.waits : 0;
	r.wait_max_ns = s.wait_max_ns;
	r.rescues = s.rescues;
	r.cgroup_id = s.cgroup_id;
	r.last_cpu = s.last_cpu;
	r.group = s.group;
	return r;
}

void HostImpl::fill_shares(std::vector<TaskRow> &rows) const
{
	uint64_t tickets = 0, delta = 0;
	for (auto &r : rows) {
		tickets += r.tickets;
		delta += r.delta_ns;
	}
	for (auto &r : rows) {
		r.ticket_share = tickets ? (double)r.tickets / (double)tickets : 0;
		r.cpu_share = delta ? (double)r.delta_ns / (double)delta : 0;
	}
}

std::vector<TaskRow> HostImpl::tasks(const TaskQuery &q)
{
	std::vector<TaskRow> rows;
	uint32_t n = b_.slots_hw();
	const lotto_task_stat *t = b_.tasks();
	rows.reserve(n);
	for (uint32_t i = 0; i < n; i++) {
		lotto_task_stat s = t[i];	// copy: the backend may be writing it
		if (s.pid)
			rows.push_back(row_of(i, s));
	}
	fill_shares(rows);	// shares among all tasks, whatever the query keeps
	apply_query(rows, q);
	return rows;
}

HostResult<uint32_t> HostImpl::slot_for(uint32_t pid) const
{
	if (pid == 0)
		return herr(ErrorCode::no_such_pid, "no such pid: 0 (pids start at 1)");
	if (auto s = book_.slot_of(pid))
		return *s;
	return herr(ErrorCode::no_such_pid,
		    fmt::format("no such pid: {} is not a lotto task (see `tasks` for the list)", pid));
}

HostResult<TaskDetail> HostImpl::task(uint32_t pid)
{
	auto slot = slot_for(pid);
	if (!slot)
		return slot.error();
	// the shares need every task: the row as tasks() makes it
	TaskQuery q;
	q.pid = pid;
	auto rows = tasks(q);
	if (rows.empty())
		return herr(ErrorCode::no_such_pid, fmt::format("no such pid: {} has just exited", pid));
	TaskDetail d;
	d.row = std::move(rows.back());
	lotto_task_stat s = b_.tasks()[*slot];
	d.stat_tickets = s.tickets;
	d.comp_q10 = s.comp_q10;
	d.funded_by = s.funded_by;
	d.funded_tickets = s.funded_by ? s.funded_tickets : 0;
	if (s.group) {
		if (gbook_)
			d.group_name = gbook_->name_of(s.group);
		if (d.group_name.empty())
			for (auto &g : b_.groups())
				if (g.gid == s.group && g.kind == LOTTO_GROUP_CGROUP)
					d.group_name = b_.cgroup_path(g.cgroup_id);
	}
	if (auto p = book_.pins().find(pid); p != book_.pins().end())
		d.pin = p->second;
	if (auto b = book_.boosts().find(pid); b != book_.boosts().end()) {
		auto now = Clock::now();
		if (!b->second.until || *b->second.until > now) {
			d.boost_factor = b->second.factor;
			if (b->second.until)
				d.boost_left_s = std::chrono::duration<double>(*b->second.until - now).count();
		}
	}
	if (auto h = book_.history(pid))
		d.history.assign(h->begin(), h->end());
	return d;
}

HostStats HostImpl::stats()
{
	HostStats st;
	st.backend = b_.name();
	st.version = version_;
	st.exit = b_.exit_info();
	st.state = st.exit ? "exited" : "enabled";
	st.uptime_s = std::chrono::duration<double>(Clock::now() - started_).count();
	st.nr_cpus = b_.nr_cpus();
	auto g = b_.stats();
	st.total = g.total;
	st.per_cpu = std::move(g.per_cpu);
	st.draws_per_s = draws_per_s_;
	uint32_t n = b_.slots_hw();
	const lotto_task_stat *t = b_.tasks();
	for (uint32_t i = 0; i < n; i++) {
		lotto_task_stat s = t[i];
		if (!s.pid)
			continue;
		st.nr_tasks++;
		st.total_tickets += tickets_of(i, s);
	}
	st.pins = book_.pins().size();
	auto now = Clock::now();
	for (auto &[pid, b] : book_.boosts())
		if (!b.until || *b.until > now)
			st.boosts++;
	if (policies_)
		st.policies = policies_->list().size();
	return st;
}

std::vector<GroupRow> HostImpl::groups()
{
	std::vector<GroupRow> rows;
	auto stats = b_.groups();
	if (stats.empty())
		return rows;
	std::unordered_map<uint32_t, size_t> at;	// gid -> row
	for (auto &g : stats) {
		GroupRow r;
		r.gid = g.gid;
		r.kind = group_kind_name(g.kind);
		r.cgroup_id = g.cgroup_id;
		if (g.kind == LOTTO_GROUP_CGROUP)
			r.name = b_.cgroup_path(g.cgroup_id);
		else if (g.kind == LOTTO_GROUP_POLICY && gbook_)
			r.name = gbook_->name_of(g.gid);
		r.funding = g.funding;
		r.weight = g.weight;
		r.source = g.gid == 0 ? "tickets"
			   : g.funding_set ? (gbook_ && !gbook_->source(g.gid).empty() ? gbook_->source(g.gid) : "set")
			   : g.kind == LOTTO_GROUP_CGROUP && lotto_tickets_valid(g.weight) ? "cpu.weight"
											   : "default";
		r.transfers = g.flags & LOTTO_GROUP_F_TRANSFERS;
		r.transfers_in = g.flags & LOTTO_GROUP_F_TRANSFERS_IN;
		r.runtime_ns = g.runtime_ns;
		r.wins = g.wins;
		at[g.gid] = rows.size();
		rows.push_back(std::move(r));
	}
	if (rows.empty() || rows[0].gid != 0) {	// the root is always there
		GroupRow root;
		root.kind = "root";
		root.source = "tickets";
		rows.insert(rows.begin(), root);
		for (auto &[gid, i] : at)
			i++;
		at[0] = 0;
	}
	// the tasks: membership, activity, CPU over the last interval; the
	// root competes with its active tasks' own tickets
	uint64_t delta = 0, root_tickets = 0;
	uint32_t n = b_.slots_hw();
	const lotto_task_stat *t = b_.tasks();
	for (uint32_t i = 0; i < n; i++) {
		lotto_task_stat s = t[i];
		if (!s.pid)
			continue;
		uint64_t d = i < prev_.size() && prev_[i].same_task(s.pid, s.gen) ? delta_[i] : 0;
		delta += d;
		auto it = at.find(s.group);
		if (it == at.end())
			continue;	// a group freed since its last draw
		GroupRow &g = rows[it->second];
		g.tasks++;
		g.delta_ns += d;
		if (d) {
			g.active++;
			if (s.group == 0)
				root_tickets += tickets_of(i, s);
		}
	}
	rows[0].funding = uint32_t(std::min<uint64_t>(root_tickets, UINT32_MAX));
	uint64_t active = 0;
	for (auto &g : rows)
		if (g.active)
			active += g.funding;
	for (auto &g : rows) {
		g.ticket_share = g.active && active ? double(g.funding) / double(active) : 0;
		g.cpu_share = delta ? double(g.delta_ns) / double(delta) : 0;
		g.cpu_pct = interval_s_ > 0 ? 100.0 * double(g.delta_ns) / (interval_s_ * 1e9) : 0;
	}
	return rows;
}

static HostError no_engine(const char *what)
{
	return herr(ErrorCode::unavailable,
		    fmt::format("{} is not available: this lotto-host runs without a policy engine", what));
}

HostResult<std::vector<PolicyInfo>> HostImpl::policies()
{
	if (!policies_)
		return no_engine("policy list");
	return policies_->list();
}

HostResult<std::vector<PolicyError>> HostImpl::policy_errors()
{
	if (!policies_)
		return no_engine("policy errors");
	return policies_->errors();
}

void HostImpl::eval(const std::string &expr, const Peer &peer, Reply<std::string> done)
{
	if (!policies_)
		return done(no_engine("lua"));
	policies_->eval(expr, peer.creds(), peer.admin, [done](Result<std::string> r) {
		if (!r)
			return done(HostError{r.error().code == Errc::busy ? ErrorCode::busy : ErrorCode::eval_error,
					      r.error().msg});
		done(std::move(*r));
	});
}

// ---- tickets

HostResult<Ok> HostImpl::save_pins(const Pins &after)
{
	if (!state_)
		return Ok{};
	if (auto r = state_->save_pins(after); !r)
		return HostError{ErrorCode::not_saved, r.error().msg + "; nothing was changed"};
	return Ok{};
}

static HostError tickets_out_of_range(uint32_t tickets)
{
	return herr(ErrorCode::out_of_range,
		    fmt::format("tickets out of range: {} (use {}..{})", tickets, LOTTO_TICKETS_MIN, LOTTO_TICKETS_MAX));
}

HostResult<Ok> HostImpl::pin(uint32_t pid, uint32_t tickets)
{
	if (!lotto_tickets_valid(tickets))
		return tickets_out_of_range(tickets);
	auto slot = slot_for(pid);
	if (!slot)
		return slot.error();
	Pins after = book_.pins();
	after[pid] = tickets;
	if (auto r = save_pins(after); !r)
		return r;
	if (auto r = book_.pin(pid, tickets); !r)
		return herr(ErrorCode::bad_request, r.error().msg);
	book_.apply();
	return Ok{};
}

HostResult<std::vector<uint32_t>> HostImpl::pin_matching(const std::string &pattern, uint32_t tickets)
{
	if (!lotto_tickets_valid(tickets))
		return tickets_out_of_range(tickets);
	std::vector<uint32_t> pids;
	uint32_t n = b_.slots_hw();
	const lotto_task_stat *t = b_.tasks();
	for (uint32_t i = 0; i < n; i++) {
		lotto_task_stat s = t[i];
		if (s.pid && fnmatch(pattern.c_str(), comm_of(s).c_str(), 0) == 0)
			pids.push_back(s.pid);
	}
	if (pids.empty())
		return herr(ErrorCode::no_match, fmt::format("no lotto task has a comm matching '{}' (see `tasks`)", pattern));
	Pins after = book_.pins();
	for (uint32_t pid : pids)
		after[pid] = tickets;
	if (auto r = save_pins(after); !r)
		return r.error();
	book_.pin_found(pids, tickets);
	book_.apply();
	return pids;
}

HostResult<Ok> HostImpl::unpin(uint32_t pid)
{
	// the book's unpin drops the pin and the boost of the task
	if (!book_.pins().count(pid) && !book_.boosts().count(pid)) {
		if (auto s = slot_for(pid); !s)
			return s.error();
		return herr(ErrorCode::not_pinned, fmt::format("pid {} is not pinned (nothing to unpin)", pid));
	}
	if (book_.pins().count(pid)) {
		Pins after = book_.pins();
		after.erase(pid);
		if (auto r = save_pins(after); !r)
			return r;
	}
	if (auto r = book_.unpin(pid); !r)
		return herr(ErrorCode::bad_request, r.error().msg);
	book_.apply();
	return Ok{};
}

HostResult<size_t> HostImpl::unpin_all()
{
	if (!book_.pins().empty())
		if (auto r = save_pins(Pins{}); !r)
			return r.error();
	size_t n = book_.unpin_all();
	book_.apply();
	return n;
}

HostResult<Ok> HostImpl::boost(uint32_t pid, double factor, std::optional<std::chrono::milliseconds> duration)
{
	if (!lotto_boost_valid(factor))
		return herr(ErrorCode::out_of_range, fmt::format("boost factor out of range: {} (use {}..{})", factor,
								 LOTTO_BOOST_MIN, LOTTO_BOOST_MAX));
	if (duration && duration->count() <= 0)
		return herr(ErrorCode::out_of_range, "boost duration must be positive (e.g. `for 30s`)");
	auto slot = slot_for(pid);
	if (!slot)
		return slot.error();
	std::optional<Clock::duration> d;
	if (duration)
		d = std::chrono::duration_cast<Clock::duration>(*duration);
	if (auto r = book_.boost(pid, factor, d); !r)
		return herr(ErrorCode::bad_request, r.error().msg);
	book_.apply();
	return Ok{};
}

// ---- policies

// a policy looked up by name that failed: which code a client sees
static HostError policy_failure(const Error &e)
{
	switch (e.code) {
	case Errc::not_found: return herr(ErrorCode::no_such_policy, e.msg);
	case Errc::not_saved: return herr(ErrorCode::not_saved, e.msg);
	default: return herr(ErrorCode::policy_error, e.msg);
	}
}

void HostImpl::policy_load(const std::string &file, const Peer &peer, Reply<std::string> done)
{
	if (!policies_)
		return done(no_engine("policy load"));
	std::string abs = absolute_path(file);
	Credentials owner = peer.creds();
	policies_->load(abs, owner, [this, abs, owner, done](Result<std::string> r) {
		// a load that failed is a policy_error, whatever the reason (a
		// missing file is not a missing policy)
		if (!r)
			return done(herr(ErrorCode::policy_error, r.error().msg));
		if (state_)
			if (auto s = state_->add_policy(abs, owner); !s) {
				(void)policies_->unload(*r);	// not on disk: not loaded
				return done(herr(ErrorCode::not_saved, s.error().msg + "; the policy was not loaded"));
			}
		done(std::move(*r));
	});
}

HostResult<Ok> HostImpl::policy_unload(const std::string &name)
{
	if (!policies_)
		return no_engine("policy unload");
	if (state_)
		for (auto &p : policies_->list())
			if (p.name == name || (!p.running && p.path == name)) {
				if (auto s = state_->remove_policy(p.path); !s)
					return herr(ErrorCode::not_saved, s.error().msg + "; the policy was not unloaded");
				break;
			}
	if (auto r = policies_->unload(name); !r)
		return policy_failure(r.error());
	return Ok{};
}

HostResult<Ok> HostImpl::policy_reload(const std::string &name)
{
	if (!policies_)
		return no_engine("policy reload");
	if (auto r = policies_->reload(name); !r)
		return policy_failure(r.error());
	return Ok{};
}

// ---- groups

static HostError group_failure(const Error &e)
{
	switch (e.code) {
	case Errc::not_found: return herr(ErrorCode::no_such_group, e.msg);
	case Errc::busy: return herr(ErrorCode::busy, e.msg);
	case Errc::not_saved: return herr(ErrorCode::not_saved, e.msg);
	default: return herr(ErrorCode::bad_request, e.msg);
	}
}

HostResult<uint32_t> HostImpl::fund_group(const std::string &group, uint32_t funding)
{
	if (funding < LOTTO_FUNDING_MIN || funding > LOTTO_FUNDING_MAX)
		return herr(ErrorCode::out_of_range, fmt::format("funding out of range: {} (use {}..{})", funding,
								 LOTTO_FUNDING_MIN, LOTTO_FUNDING_MAX));
	if (!gbook_ || b_.groups().empty())
		return herr(ErrorCode::unavailable, "groups are not available: this backend has no currencies");
	// try it on a copy first: what is saved must be what the book takes
	GroupBook trial = *gbook_;
	if (auto r = trial.pin(group, funding); !r)
		return group_failure(r.error());
	if (state_)
		if (auto r = state_->save_group_pins(trial.pins()); !r)
			return herr(ErrorCode::not_saved, r.error().msg + "; nothing was changed");
	if (auto r = gbook_->pin(group, funding); !r)
		return group_failure(r.error());
	gbook_->apply();
	std::string name = group;
	if (!name.empty() && name[0] >= '0' && name[0] <= '9')
		return uint32_t(std::stoul(name));	// pin() took it: a gid in range
	return gbook_->gid_of(name).value_or(0);
}

HostResult<Ok> HostImpl::unfund_group(const std::string &group)
{
	if (!gbook_)
		return herr(ErrorCode::unavailable, "groups are not available: this backend has no currencies");
	GroupBook trial = *gbook_;
	if (auto r = trial.unpin(group); !r)
		return group_failure(r.error());
	if (state_)
		if (auto r = state_->save_group_pins(trial.pins()); !r)
			return herr(ErrorCode::not_saved, r.error().msg + "; nothing was changed");
	(void)gbook_->unpin(group);
	gbook_->apply();
	return Ok{};
}

} // namespace lotto::control

// engine_eval.cpp — `lua EXPR` requests (see engine.h): queued per policy,
// sent to its worker when it can take them, answered by id. An admin's
// evaluation holds the policy's worker like a tick does (at most one request
// in flight); a read-only one runs in a child of the worker (eval_child.h),
// one per policy at a time, while ticks go on. Nothing waits on the event
// loop: the requester's Completion runs when the answer is there, or when
// the evaluation is given up on (its worker stopped, or no answer in time).
#include "policy/engine_state.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace lotto::policy {

size_t Engine::queued_evals() const
{
	size_t n = 0;
	for (auto &p : policies_) {
		n += p->evals.size();
		for (Worker *w : {p->cur.get(), p->cand.get()})
			if (w)
				n += w->ro_eval.has_value() + w->admin_eval.has_value();
	}
	return n;
}

void Engine::eval(const std::string &expr_in, const Credentials &who, bool admin, Completion done)
{
	struct Flush {
		Engine *e;
		~Flush() { e->run_completions(); }
	} flush{this};
	std::string expr = expr_in;
	Policy *p = nullptr;
	if (!expr.empty() && expr[0] == '@') {
		auto sp = expr.find_first_of(" \t");
		std::string name = expr.substr(1, sp == std::string::npos ? std::string::npos : sp - 1);
		expr = sp == std::string::npos ? "" : expr.substr(sp + 1);
		p = find_name(name);
		if (!p)
			return complete(done, err(Errc::not_found, "no policy named " + name + " (see `policy list`)"));
	} else {
		for (auto &q : policies_)
			if (q->version) {
				p = q.get();
				break;
			}
		if (!p)
			return complete(done, err(Errc::not_found, "no policy is loaded: `lua` runs inside a policy's worker"));
	}
	if (expr.find_first_not_of(" \t\n") == std::string::npos)
		return complete(done, err(Errc::invalid, "usage: lua [@POLICY] EXPRESSION"));
	if (queued_evals() >= opts_.max_queued_evals)
		return complete(done, err(Errc::busy, fmt::format("too many `lua` evaluations are waiting ({}); try again",
								 queued_evals())));
	// long enough for a tick before it, a worker that restarts, and the
	// evaluation itself
	auto give_up = SteadyClock::now() + opts_.budget_limit + opts_.budget_limit + opts_.init_budget +
		       std::chrono::seconds(1);
	p->evals.push_back(PendingEval{next_eval_++, std::move(expr), who, admin, std::move(done), give_up});
	if (!eval_timer_)
		if (auto t = loop_.add_timer(std::chrono::milliseconds(250), [this](uint64_t) { expire_evals(); }))
			eval_timer_ = *t;
	pump_evals(*p);
}

Result<std::string> Engine::eval(const std::string &expr, bool admin)
{
	std::optional<Result<std::string>> out;
	eval(expr, Credentials::of_process(), admin, [&](Result<std::string> r) { out.emplace(std::move(r)); });
	wait_until([&] { return out.has_value(); });
	if (!out)
		return err("evaluation failed");
	return std::move(*out);
}

// Send what the policy's worker can take now.
void Engine::pump_evals(Policy &p)
{
	while (!p.evals.empty()) {
		Worker *w = p.cur && p.cur->ready ? p.cur.get() : nullptr;
		if (!w)
			return;	// when a worker is ready (handle_ready)
		PendingEval &e = p.evals.front();
		if (e.admin ? p.busy != nullptr : w->ro_eval.has_value())
			return;	// after the request in flight
		EvalMsg m;
		m.id = e.id;
		m.admin = e.admin;
		m.slots_hw = std::min<uint32_t>(backend_.slots_hw(), LOTTO_MAX_TASKS);
		m.budget_ms = uint32_t(opts_.budget_limit.count());
		m.uid = e.who.uid;
		m.gid = e.who.gid;
		m.groups.assign(e.who.groups.begin(), e.who.groups.end());
		m.expr = e.expr;
		if (e.admin) {
			w->req = Worker::Req::Eval;
			p.busy = w;
			w->arm(double(opts_.budget_limit.count()));
			w->admin_eval = std::move(e);
		} else {
			w->ro_eval = std::move(e);
		}
		p.evals.pop_front();
		if (auto r = send_msg(w->proc->fd(), encode(m)); !r) {
			handle_failure(p, *w, ErrorKind::Crash, r.error().msg);
			return;
		}
	}
}

void Engine::handle_eval_done(Policy &p, Worker &w, EvalDoneMsg m)
{
	std::optional<PendingEval> e;
	if (w.req == Worker::Req::Eval && w.admin_eval && w.admin_eval->id == m.id) {
		w.disarm();
		w.req = Worker::Req::None;
		if (p.busy == &w)
			p.busy = nullptr;
		forward_logs(p, m.logs, m.logs_dropped);
		e = std::move(w.admin_eval);
		w.admin_eval.reset();
	} else if (w.ro_eval && w.ro_eval->id == m.id) {
		e = std::move(w.ro_eval);	// its logs were dropped in the child
		w.ro_eval.reset();
	} else if (std::find(w.given_up.begin(), w.given_up.end(), m.id) != w.given_up.end()) {
		std::erase(w.given_up, m.id);	// answered too late: its requester was told
		return;
	} else {
		handle_failure(p, w, ErrorKind::Crash, "answered an evaluation it was not asked for");
		return;
	}
	if (m.ok)
		complete(e->done, std::move(m.text));
	else
		complete(e->done, err(std::move(m.text)));
	pump_evals(p);
}

void Engine::abandon_evals(Policy &, Worker &w, const std::string &why)
{
	if (w.admin_eval)
		complete(w.admin_eval->done, err(why));
	if (w.ro_eval)
		complete(w.ro_eval->done, err(why));
	w.admin_eval.reset();
	w.ro_eval.reset();
}

// Evaluations nobody answered in time (a worker that does not come back):
// their requesters get an error; a late answer is dropped.
void Engine::expire_evals()
{
	auto now = SteadyClock::now();
	bool pending = false;
	for (auto &p : policies_) {
		std::string why = "`lua`: policy " + p->label() + " did not answer in time (its worker is restarting?); try again";
		for (auto it = p->evals.begin(); it != p->evals.end();) {
			if (it->give_up <= now) {
				complete(it->done, err(why));
				it = p->evals.erase(it);
			} else {
				++it;
			}
		}
		pending = pending || !p->evals.empty();
		for (Worker *w : {p->cur.get(), p->cand.get()}) {
			if (!w || !w->ro_eval)
				continue;
			if (w->ro_eval->give_up <= now) {
				complete(w->ro_eval->done, err(why));
				w->given_up.push_back(w->ro_eval->id);
				w->ro_eval.reset();
				pump_evals(*p);
			}
			pending = pending || w->ro_eval.has_value() || w->admin_eval.has_value();
		}
	}
	if (!pending && eval_timer_) {
		loop_.remove(eval_timer_);
		eval_timer_ = 0;
	}
	run_completions();
}

} // namespace lotto::policy

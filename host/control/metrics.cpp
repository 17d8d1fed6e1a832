#include "control/metrics.h"

#include "core/limits.h"

#include <charconv>
#include <cmath>
#include <set>

namespace lotto::control {

namespace {

struct Label {
	const char *name;
	std::string value;
};

// One metric family at a time: its HELP and TYPE lines, then its samples.
class Exposition {
public:
	void family(const std::string &name, const char *type, const std::string &help)
	{
		name_ = name;
		out_ += "# HELP " + name + " ";
		for (char c : help)
			out_ += c == '\\' ? "\\\\" : c == '\n' ? "\\n" : std::string(1, c);
		out_ += "\n# TYPE " + name + " " + type + "\n";
	}
	template <typename T> void sample(const std::vector<Label> &labels, T value)
	{
		out_ += name_;
		for (size_t i = 0; i < labels.size(); i++) {
			out_ += i ? "," : "{";
			out_ += labels[i].name;
			out_ += "=\"" + metric_label_value(labels[i].value) + "\"";
		}
		out_ += labels.empty() ? " " : "} ";
		number(value);
		out_ += '\n';
	}
	template <typename T> void single(const std::string &name, const char *type, const std::string &help, T value,
					  const std::vector<Label> &labels = {})
	{
		family(name, type, help);
		sample(labels, value);
	}
	std::string take() { return std::move(out_); }

private:
	void number(double v)
	{
		if (std::isnan(v)) {
			out_ += "NaN";
			return;
		}
		if (std::isinf(v)) {
			out_ += v > 0 ? "+Inf" : "-Inf";
			return;
		}
		char buf[32];
		auto r = std::to_chars(buf, buf + sizeof(buf), v);
		out_.append(buf, r.ptr);
	}
	void number(uint64_t v) { out_ += std::to_string(v); }
	void number(uint32_t v) { out_ += std::to_string(v); }
	void number(bool v) { out_ += v ? "1" : "0"; }

	std::string out_;
	std::string name_;
};

// a family with one sample per item of `items`
template <typename Items, typename LabelsOf, typename ValueOf>
void per_item(Exposition &e, const std::string &name, const char *type, const std::string &help, const Items &items,
	      LabelsOf labels_of, ValueOf value_of)
{
	e.family(name, type, help);
	for (auto &x : items)
		e.sample(labels_of(x), value_of(x));
}

// nanoseconds as seconds (a division by 1e9 rounds exactly)
double seconds(uint64_t ns) { return double(ns) / 1e9; }

void scheduler(Exposition &e, const HostStats &s)
{
	e.single("lotto_info", "gauge", "lotto-host's version and backend (always 1)", 1u,
		 {{"version", s.version}, {"backend", s.backend}});
	e.single("lotto_enabled", "gauge", "1 while lotto schedules, 0 once the kernel has stopped it",
		 s.state == "enabled");
	e.single("lotto_uptime_seconds", "gauge", "seconds since lotto-host started", s.uptime_s);
	e.single("lotto_cpus", "gauge", "CPUs the backend schedules", s.nr_cpus);
	e.single("lotto_tasks", "gauge", "lotto tasks alive", s.nr_tasks);
	e.single("lotto_tickets", "gauge", "tickets of all lotto tasks together (in force: pins, policies, defaults, boosts)",
		 uint64_t(s.total_tickets));
	e.single("lotto_pins", "gauge", "tasks whose tickets are pinned from a shell", s.pins);
	e.single("lotto_boosts", "gauge", "boosts in force", s.boosts);
	e.single("lotto_policies", "gauge", "policies listed (loaded or failed)", s.policies);
	std::vector<size_t> cpus(s.per_cpu.size());
	for (size_t c = 0; c < cpus.size(); c++)
		cpus[c] = c;
	for (int i = 0; i < LOTTO_STAT_NR; i++)
		per_item(e, std::string("lotto_") + stat_name(i) + "_total", "counter",
			 std::string(lotto_stat_help[i]) + ", per CPU", cpus,
			 [](size_t c) { return std::vector<Label>{{"cpu", std::to_string(c)}}; },
			 [&](size_t c) { return uint64_t(s.per_cpu[c][i]); });
}

void policies(Exposition &e, const std::vector<PolicyInfo> &all)
{
	// one series per name (a policy that never loaded is named by its
	// file's stem, which a loaded one may also be called)
	std::vector<const PolicyInfo *> ps;
	std::set<std::string> seen;
	for (auto &p : all)
		if (ps.size() < limits::kMaxMetricsPolicies && seen.insert(p.name).second)
			ps.push_back(&p);
	auto labels = [](const PolicyInfo *p) { return std::vector<Label>{{"policy", p->name}}; };
	per_item(e, "lotto_policy_active", "gauge", "1 while the policy is loaded and ticking", ps, labels,
		 [](const PolicyInfo *p) { return p->running; });
	per_item(e, "lotto_policy_ticks_total", "counter", "good ticks of the policy, all its versions", ps, labels,
		 [](const PolicyInfo *p) { return p->ticks; });
	per_item(e, "lotto_policy_overruns_total", "counter",
		 "tick times without a tick: skipped (late, previous still running) or stopped at the budget", ps,
		 labels, [](const PolicyInfo *p) { return p->overruns; });
	per_item(e, "lotto_policy_timeouts_total", "counter", "ticks stopped at their time budget", ps, labels,
		 [](const PolicyInfo *p) { return p->timeouts; });
	per_item(e, "lotto_policy_errors_total", "counter", "errors of the policy, of any kind", ps, labels,
		 [](const PolicyInfo *p) { return p->errors; });
	per_item(e, "lotto_policy_last_tick_seconds", "gauge", "duration of the policy's last good tick", ps, labels,
		 [](const PolicyInfo *p) { return p->last_tick_us / 1e6; });
	per_item(e, "lotto_policy_interval_seconds", "gauge", "the policy's tick interval", ps, labels,
		 [](const PolicyInfo *p) { return p->interval_ms / 1e3; });
}

void tasks(Exposition &e, const std::vector<TaskRow> &rows, size_t top)
{
	std::string which = " (the " + std::to_string(top) + " tasks with the most CPU time in the last interval)";
	auto labels = [](const TaskRow &r) { return std::vector<Label>{{"pid", std::to_string(r.pid)}, {"comm", r.comm}}; };
	per_item(e, "lotto_task_tickets", "gauge", "tickets in force" + which, rows, labels,
		 [](const TaskRow &r) { return r.tickets; });
	per_item(e, "lotto_task_cpu_ratio", "gauge", "share of one CPU over the last interval" + which, rows, labels,
		 [](const TaskRow &r) { return r.cpu_pct / 100; });
	per_item(e, "lotto_task_runtime_seconds_total", "counter", "CPU time under lotto" + which, rows, labels,
		 [](const TaskRow &r) { return seconds(r.runtime_ns); });
	per_item(e, "lotto_task_wins_total", "counter", "draws won" + which, rows, labels,
		 [](const TaskRow &r) { return r.wins; });
	per_item(e, "lotto_task_waits_total", "counter", "waits from runnable to running" + which, rows, labels,
		 [](const TaskRow &r) { return r.waits; });
	per_item(e, "lotto_task_wait_avg_seconds", "gauge", "average wait from runnable to running" + which, rows,
		 labels, [](const TaskRow &r) { return seconds(r.wait_avg_ns); });
	per_item(e, "lotto_task_wait_max_seconds", "gauge", "longest wait from runnable to running" + which, rows,
		 labels, [](const TaskRow &r) { return seconds(r.wait_max_ns); });
	per_item(e, "lotto_task_rescues_total", "counter", "times the starvation guard ran the task" + which, rows,
		 labels, [](const TaskRow &r) { return r.rescues; });
}

} // namespace

std::string metric_label_value(std::string_view v)
{
	std::string out;
	out.reserve(v.size());
	for (size_t i = 0; i < v.size();) {
		unsigned char c = v[i];
		if (c == '\\' || c == '"') {
			out += '\\';
			out += char(c);
		} else if (c == '\n') {
			out += "\\n";
		} else if (c < 0x20 || c == 0x7f) {
			out += '?';
		} else if (c >= 0x80) {
			// a whole UTF-8 sequence, or '?' for its first byte
			size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
			bool ok = n && i + n <= v.size();
			for (size_t k = 1; ok && k < n; k++)
				ok = (static_cast<unsigned char>(v[i + k]) & 0xc0) == 0x80;
			if (ok && n == 3) {	// no overlong forms, no surrogates
				unsigned char d = v[i + 1];
				ok = !(c == 0xe0 && d < 0xa0) && !(c == 0xed && d >= 0xa0);
			}
			if (ok && n == 4) {
				unsigned char d = v[i + 1];
				ok = !(c == 0xf0 && d < 0x90) && !(c == 0xf4 && d >= 0x90);
			}
			if (!ok) {
				out += '?';
				i++;
				continue;
			}
			out.append(v.substr(i, n));
			i += n;
			continue;
		} else {
			out += char(c);
		}
		i++;
	}
	return out;
}

std::string render_metrics(HostApi &host, size_t top_tasks)
{
	Exposition e;
	scheduler(e, host.stats());
	if (auto p = host.policies())
		policies(e, *p);
	TaskQuery q;
	q.sort = "cpu";
	q.top = top_tasks;
	if (top_tasks)
		tasks(e, host.tasks(q), top_tasks);
	return e.take();
}

} // namespace lotto::control

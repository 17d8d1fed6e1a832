#include "sim/workload.h"

#include "core/fd.h"

extern "C" {
#include "bpf/lotto_abi.h"
}

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <fcntl.h>
#include <sys/stat.h>

namespace lotto::sim {

namespace {

constexpr std::string_view kDefaultWorkload =
	"# lotto's built-in sim workload (lotto-host --backend sim without --workload).\n"
	"# No `cpus` line: the machine gets --sim-cpus CPUs, else as many as this host.\n"
	"# two CPU hogs of user 1000 at nice 0 and one at nice 5\n"
	"task name=hog uid=1000 cgroup=/user.slice/user-1000.slice cpu=100% count=2\n"
	"task name=hog-nice5 uid=1000 nice=5 cgroup=/user.slice/user-1000.slice cpu=100%\n"
	"# an interactive task: short bursts, long sleeps\n"
	"task name=editor uid=1001 cgroup=/user.slice/user-1001.slice run=1ms sleep=30ms\n"
	"# a 4-thread build of user 1001, mostly on CPU\n"
	"task name=build uid=1001 cgroup=/user.slice/user-1001.slice threads=4 run=8ms sleep=2ms\n"
	"# a daemon that wakes every 100 ms\n"
	"task name=daemon uid=0 nice=-5 cgroup=/system.slice run=500us sleep=100ms\n";

std::string_view trim(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
		s.remove_suffix(1);
	return s;
}

std::vector<std::string_view> split_ws(std::string_view s)
{
	std::vector<std::string_view> out;
	size_t i = 0;
	while (i < s.size()) {
		while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
			i++;
		size_t j = i;
		while (j < s.size() && s[j] != ' ' && s[j] != '\t')
			j++;
		if (j > i)
			out.push_back(s.substr(i, j - i));
		i = j;
	}
	return out;
}

template <typename T> std::optional<T> parse_int(std::string_view s, T lo, T hi)
{
	T v{};
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi)
		return std::nullopt;
	return v;
}

std::string q(std::string_view s) { return "'" + std::string(s) + "'"; }

// a cgroup path as cgroupfs names it: "/" or "/a/b", no empty, "." or ".."
// component and no trailing '/' (so that one cgroup has one name, and its
// parent is the path up to the last '/')
bool cgroup_path_ok(std::string_view p)
{
	if (p.empty() || p[0] != '/')
		return false;
	if (p == "/")
		return true;
	for (size_t i = 1; i <= p.size();) {
		size_t j = std::min(p.find('/', i), p.size());
		std::string_view c = p.substr(i, j - i);
		if (c.empty() || c == "." || c == "..")
			return false;
		i = j + 1;
	}
	return true;
}

// One line's parse: errors come back without the "FILE:LINE: " prefix.
class LineParser {
public:
	LineParser(Workload &w) : w_(w) {}
	void set_line(int line) { line_ = line; }

	Result<void> directive(const std::vector<std::string_view> &tok)
	{
		std::string_view d = tok[0];
		if (d == "cpus")
			return cpus(tok);
		if (d == "tick")
			return tick(tok);
		if (d == "stall")
			return stall(tok);
		if (d == "task")
			return task(tok);
		if (d == "cgroup")
			return cgroup(tok);
		return err("unknown directive " + q(d) + " (expected cpus, tick, stall, cgroup or task)");
	}

private:
	Result<void> cpus(const std::vector<std::string_view> &tok)
	{
		if (tok.size() != 2)
			return err("usage: cpus N (1.." + std::to_string(kMaxCpus) + ")");
		if (w_.cpus)
			return err("cpus given twice");
		auto n = parse_int<uint32_t>(tok[1], 1, kMaxCpus);
		if (!n)
			return err("cpus: " + q(tok[1]) + " is not a number in 1.." + std::to_string(kMaxCpus));
		w_.cpus = *n;
		return {};
	}

	// cgroup PATH weight=N: cpu.weight 1..10000, as cgroup v2 allows
	Result<void> cgroup(const std::vector<std::string_view> &tok)
	{
		if (tok.size() != 3 || tok[2].substr(0, 7) != "weight=")
			return err("usage: cgroup PATH weight=N (cpu.weight, 1..10000)");
		if (!cgroup_path_ok(tok[1]) || tok[1] == "/")
			return err("cgroup: " + q(tok[1]) + " must be an absolute path below the root, such as /a or /a/b");
		for (const CgroupSpec &c : w_.cgroups)
			if (c.path == tok[1])
				return err("cgroup " + q(tok[1]) + " given twice");
		auto n = parse_int<uint32_t>(tok[2].substr(7), 1, 10000);
		if (!n)
			return err("cgroup: weight " + q(tok[2].substr(7)) + " is not a number in 1..10000");
		w_.cgroups.push_back(CgroupSpec{line_, std::string(tok[1]), *n});
		return {};
	}

	Result<void> tick(const std::vector<std::string_view> &tok)
	{
		if (tok.size() != 2)
			return err("usage: tick DURATION (e.g. tick 4ms; tick 0 = exact accounting)");
		if (tick_seen_)
			return err("tick given twice");
		auto d = parse_duration_ns(tok[1]);
		if (!d)
			return err("tick: " + d.error().msg);
		if (*d > 1000000000ull)
			return err("tick: " + q(tok[1]) + " is longer than 1s");
		w_.tick_ns = *d;
		tick_seen_ = true;
		return {};
	}

	// stall P% D: a quantum is held up with chance P, for Exp(mean D)
	Result<void> stall(const std::vector<std::string_view> &tok)
	{
		if (tok.size() != 3 || tok[1].empty() || tok[1].back() != '%')
			return err("usage: stall P% DURATION (e.g. stall 5% 60ms: one quantum in 20 lasts 60 ms longer on average)");
		if (stall_seen_)
			return err("stall given twice");
		auto p = parse_int<uint32_t>(tok[1].substr(0, tok[1].size() - 1), 1, 100);
		if (!p)
			return err("stall: " + q(tok[1]) + " is not a percentage in 1%..100%");
		auto d = parse_duration_ns(tok[2]);
		if (!d)
			return err("stall: " + d.error().msg);
		if (*d == 0 || *d > 1000000000ull)
			return err("stall: " + q(tok[2]) + " is not a duration in (0, 1s]");
		w_.stall_pct = *p;
		w_.stall_mean_ns = *d;
		stall_seen_ = true;
		return {};
	}

	Result<void> task(const std::vector<std::string_view> &tok)
	{
		TaskSpec t;
		t.line = line_;
		std::vector<std::string_view> seen;
		std::optional<uint32_t> cpu_pct;
		std::optional<uint64_t> period, run, sleep;
		for (size_t i = 1; i < tok.size(); i++) {
			size_t eq = tok[i].find('=');
			if (eq == std::string_view::npos || eq == 0)
				return err("expected key=value, got " + q(tok[i]));
			std::string_view k = tok[i].substr(0, eq), v = tok[i].substr(eq + 1);
			for (auto s : seen)
				if (s == k)
					return err(q(k) + " given twice");
			seen.push_back(k);
			if (v.empty())
				return err(q(k) + " has no value");
			if (auto r = task_key(t, k, v, cpu_pct, period, run, sleep); !r)
				return r;
		}
		if (cpu_pct && (run || sleep))
			return err("cpu= and run=/sleep= exclude each other (cpu=P% is run=P% of period=)");
		if (t.tail_ns && !t.serve_ns)
			return err("tail= needs serve= (a server's CPU between a reply and its next read)");
		if (t.serve_ns && (cpu_pct || run || sleep || !t.call.empty()))
			return err("serve= excludes cpu=, run=, sleep= and call= (a server runs serve= per call)");
		if (!t.call.empty() && (cpu_pct || sleep || !run))
			return err("call= needs run= (the client's CPU time between calls) and no cpu= or sleep=");
		if (period && !cpu_pct)
			return err("period= only goes with cpu=P%");
		if (sleep && !run)
			return err("sleep= needs run= (the CPU time between two sleeps)");
		if (cpu_pct && *cpu_pct < 100) {
			uint64_t p = period.value_or(10000000ull);
			t.run_ns = p * *cpu_pct / 100;
			t.sleep_ns = p - t.run_ns;
			if (!t.run_ns)
				return err("cpu=" + std::to_string(*cpu_pct) + "% of period " + std::to_string(p) +
					   "ns is less than 1ns of CPU");
		} else if (run) {
			t.run_ns = *run;
			t.sleep_ns = sleep.value_or(0);
		}
		if (t.stop_ns && *t.stop_ns <= t.start_ns)
			return err("stop= must be later than start=");
		uint64_t total = w_.nr_threads() + t.nr_threads();
		if (total > kMaxWorkloadTasks)
			return err("the workload declares " + std::to_string(total) + " threads; at most " +
				   std::to_string(kMaxWorkloadTasks));
		w_.tasks.push_back(std::move(t));
		return {};
	}

	Result<void> task_key(TaskSpec &t, std::string_view k, std::string_view v, std::optional<uint32_t> &cpu_pct,
			      std::optional<uint64_t> &period, std::optional<uint64_t> &run,
			      std::optional<uint64_t> &sleep)
	{
		if (k == "name") {
			t.name = std::string(v.substr(0, LOTTO_COMM_LEN - 1));
		} else if (k == "nice") {
			auto n = parse_int<int32_t>(v, -20, 19);
			if (!n)
				return err("nice: " + q(v) + " is not a number in -20..19");
			t.nice = *n;
		} else if (k == "uid") {
			auto n = parse_int<uint32_t>(v, 0, 4294967294u);
			if (!n)
				return err("uid: " + q(v) + " is not a number in 0..4294967294");
			t.uid = *n;
		} else if (k == "cgroup") {
			if (!cgroup_path_ok(v))
				return err("cgroup: " + q(v) + " must be an absolute path such as /user.slice (no empty, '.' or '..' part, no trailing '/')");
			t.cgroup = std::string(v);
		} else if (k == "cpu") {
			std::string_view n = v;
			if (n.back() == '%')
				n.remove_suffix(1);
			auto p = parse_int<uint32_t>(n, 1, 100);
			if (!p)
				return err("cpu: " + q(v) + " is not a percentage in 1%..100%");
			cpu_pct = *p;
		} else if (k == "period" || k == "run" || k == "sleep" || k == "start" || k == "stop") {
			auto d = parse_duration_ns(v);
			if (!d)
				return err(std::string(k) + ": " + d.error().msg);
			if ((k == "period" || k == "run") && *d == 0)
				return err(std::string(k) + ": must be longer than 0");
			if (k == "period")
				period = *d;
			else if (k == "run")
				run = *d;
			else if (k == "sleep")
				sleep = *d;
			else if (k == "start")
				t.start_ns = *d;
			else
				t.stop_ns = *d;
		} else if (k == "pin") {
			auto s = parse_cpu_list(v);
			if (!s)
				return err("pin: " + s.error().msg);
			t.pin = *s;
			t.pin_text = std::string(v);
		} else if (k == "count" || k == "threads") {
			auto n = parse_int<uint32_t>(v, 1, uint32_t(kMaxWorkloadTasks));
			if (!n)
				return err(std::string(k) + ": " + q(v) + " is not a number in 1.." +
					   std::to_string(kMaxWorkloadTasks));
			(k == "count" ? t.count : t.threads) = *n;
		} else if (k == "serve") {
			auto d = parse_duration_ns(v);
			if (!d)
				return err("serve: " + d.error().msg);
			if (*d == 0)
				return err("serve: must be longer than 0");
			t.serve_ns = *d;
		} else if (k == "tail") {
			auto d = parse_duration_ns(v);
			if (!d)
				return err("tail: " + d.error().msg);
			t.tail_ns = *d;
		} else if (k == "call") {
			t.call = std::string(v.substr(0, LOTTO_COMM_LEN - 1));
		} else if (k == "tickets") {
			auto n = parse_int<uint32_t>(v, LOTTO_TICKETS_MIN, LOTTO_TICKETS_MAX);
			if (!n)
				return err("tickets: " + q(v) + " is not a number in " LOTTO_TICKETS_RANGE);
			t.tickets = *n;
		} else {
			return err("unknown key " + q(k) +
				   " (known: name nice uid cgroup cpu period run sleep pin start stop count threads tickets serve "
				   "tail call)");
		}
		return {};
	}

	Workload &w_;
	int line_ = 0;
	bool tick_seen_ = false;
	bool stall_seen_ = false;
};

// every call= names servers, with a server thread for each client thread
Result<void> check_calls(const Workload &w)
{
	std::map<std::string, uint64_t> servers, clients;
	for (const TaskSpec &t : w.tasks)
		if (t.serve_ns)
			servers[t.name] += t.nr_threads();
	for (const TaskSpec &t : w.tasks) {
		if (t.call.empty())
			continue;
		std::string at = w.source + ":" + std::to_string(t.line) + ": ";
		if (!servers.count(t.call))
			return err(at + "call=" + t.call + ": no task named " + q(t.call) + " has serve=");
		uint64_t n = clients[t.call] += t.nr_threads();
		if (n > servers[t.call])
			return err(at + "call=" + t.call + ": " + std::to_string(n) + " client threads for " +
				   std::to_string(servers[t.call]) + " server threads (one each; raise the servers' count=)");
	}
	return {};
}

} // namespace

uint64_t Workload::nr_threads() const
{
	uint64_t n = 0;
	for (auto &t : tasks)
		n += t.nr_threads();
	return n;
}

Result<uint64_t> parse_duration_ns(std::string_view s)
{
	static constexpr struct {
		std::string_view unit;
		double ns;
	} units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"min", 60e9}, {"s", 1e9}};
	size_t i = 0;
	while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
		i++;
	std::string_view num = s.substr(0, i), unit = s.substr(i);
	double v = 0;
	auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
	if (num.empty() || ec != std::errc() || p != num.data() + num.size())
		return err(q(s) + " is not a duration (e.g. 500us, 20ms, 1.5s)");
	if (unit.empty()) {
		if (v == 0)
			return uint64_t(0);
		return err(q(s) + " needs a unit: ns, us, ms, s or min");
	}
	for (auto &u : units) {
		if (unit != u.unit)
			continue;
		double ns = v * u.ns;
		if (!(ns <= 1e18))
			return err(q(s) + " is too long (at most about 31 years)");
		return uint64_t(std::llround(ns));
	}
	return err(q(s) + " has an unknown unit " + q(unit) + " (ns, us, ms, s or min)");
}

Result<CpuSet> parse_cpu_list(std::string_view s)
{
	CpuSet set;
	size_t i = 0;
	while (i <= s.size()) {
		size_t j = s.find(',', i);
		if (j == std::string_view::npos)
			j = s.size();
		std::string_view item = s.substr(i, j - i);
		size_t dash = item.find('-');
		std::string_view a = item.substr(0, dash);
		std::string_view b = dash == std::string_view::npos ? a : item.substr(dash + 1);
		auto lo = parse_int<uint32_t>(a, 0, kMaxCpus - 1);
		auto hi = parse_int<uint32_t>(b, 0, kMaxCpus - 1);
		if (!lo || !hi || *hi < *lo)
			return err(q(s) + " is not a CPU list such as 0 or 0,2 or 1-3 (CPUs 0.." +
				   std::to_string(kMaxCpus - 1) + ")");
		for (uint32_t c = *lo; c <= *hi; c++)
			set.set(c);
		i = j + 1;
	}
	return set;
}

Result<Workload> parse_workload(std::string_view text, std::string_view source)
{
	Workload w;
	w.source = std::string(source);
	LineParser lp(w);
	int line = 0;
	size_t pos = 0;
	while (pos < text.size()) {
		size_t nl = text.find('\n', pos);
		if (nl == std::string_view::npos)
			nl = text.size();
		std::string_view l = text.substr(pos, nl - pos);
		pos = nl + 1;
		line++;
		if (size_t h = l.find('#'); h != std::string_view::npos)
			l = l.substr(0, h);
		l = trim(l);
		if (l.empty())
			continue;
		if (l.find('\0') != std::string_view::npos)
			return err(w.source + ":" + std::to_string(line) + ": NUL byte in the line (not a text file?)");
		lp.set_line(line);
		if (auto r = lp.directive(split_ws(l)); !r)
			return err(w.source + ":" + std::to_string(line) + ": " + r.error().msg);
	}
	if (auto r = check_calls(w); !r)
		return r.error();
	return w;
}

Result<Workload> load_workload(const std::string &path)
{
	Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));	// a FIFO must not block the start
	if (!fd)
		return err(path + ": cannot open the workload file: " + strerror(errno) +
			   " (the format is in docs/sim.md)");
	struct stat st;
	if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
		return err(path + ": not a regular file (a workload is a text file, see docs/sim.md)");
	if (st.st_size > (64 << 20))
		return err(path + ": larger than 64 MiB; a workload file is a few lines of text");
	std::string text;
	char buf[65536];
	for (;;) {
		ssize_t n = ::read(fd.get(), buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err(path + ": read error: " + strerror(errno));
		if (n == 0)
			break;
		text.append(buf, size_t(n));
	}
	return parse_workload(text, path);
}

std::string_view default_workload_text() { return kDefaultWorkload; }

Workload default_workload()
{
	auto w = parse_workload(kDefaultWorkload, "(built-in workload)");
	return std::move(w).value();	// the tests parse it too: it cannot fail
}

} // namespace lotto::sim

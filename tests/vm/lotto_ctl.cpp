// lotto-ctl — a test and debugging tool that talks to the lotto BPF maps
// directly, without lotto-host's control socket.
//
// It finds the maps of the running lotto scheduler by name (walking the
// kernel's map ids), mmaps them and reads or writes them in place:
//   lotto_tasks  slot -> struct lotto_task_stat   (read)
//   lotto_ctl    slot -> struct lotto_ctl {pid, tickets}  (written)
// A ticket change is one 64-bit store into lotto_ctl[slot of the pid]; the
// BPF side reads it at the task's next draw. When several generations of the
// maps exist (a scheduler being replaced), the newest (highest id) wins.
//
// Writing lotto_ctl behind a running lotto-host is fine for tests: the host
// rewrites only the slots it manages (policies, pinned tickets), so a test
// that uses lotto-ctl should not also run a policy on the same tasks.
#include "core/fd.h"
#include "lotto_abi.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <fstream>
#include <map>
#include <set>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace {

const char *const kUsage =
	"usage: lotto-ctl COMMAND [ARGS]\n"
	"\n"
	"Read and write the maps of the running lotto scheduler directly (test tool;\n"
	"the user-facing way is lotto-shell).\n"
	"\n"
	"Commands:\n"
	"  set PID TICKETS [PID TICKETS...]\n"
	"                  give thread PID TICKETS tickets (1..1000000) from its next\n"
	"                  draw; waits up to --wait ms for PID to appear in lotto_tasks\n"
	"  get PID         one line of key=value fields for thread PID\n"
	"  dump            the task table (one line per lotto task)\n"
	"  stats           the global counters, summed over CPUs\n"
	"  groups          the groups (currencies) in use: gid, kind, cgroup id, weight,\n"
	"                  funding, runtime, wins\n"
	"  setgroup PID GID [PID GID...]\n"
	"                  put thread PID in policy group GID (512..1023) from its\n"
	"                  next draw; GID 0 gives it back to its cgroup's group\n"
	"  fund GID N [GID N...]\n"
	"                  fund group GID with N (1..1000000); 0 takes that back\n"
	"  progstats       the scheduler's BPF programs, struct_ops and the\n"
	"                  sched_waking tracepoint (run_cnt, run_time_ns, ns per\n"
	"                  run: needs sysctl kernel.bpf_stats_enabled=1) and its maps\n"
	"                  (type, entries, memlock bytes from /proc/self/fdinfo)\n"
	"\n"
	"Options (before the command):\n"
	"  --wait MS       how long set/get wait for a pid to appear (default 3000)\n"
	"  --map-ids T,C   use the maps with these ids as lotto_tasks and lotto_ctl\n"
	"                  (default: the newest maps of those names)\n"
	"  -h, --help      this text\n"
	"\n"
	"Exit status: 0 ok, 1 error (lotto not running, no such pid), 2 bad usage.\n";

using lotto::Fd;

struct Mapping {
	void *addr = MAP_FAILED;
	size_t len = 0;
	Mapping() = default;
	Mapping(void *a, size_t l) : addr(a), len(l) {}
	Mapping(Mapping &&o) noexcept : addr(o.addr), len(o.len) { o.addr = MAP_FAILED; }
	Mapping &operator=(Mapping &&o) noexcept
	{
		std::swap(addr, o.addr);
		std::swap(len, o.len);
		return *this;
	}
	Mapping(const Mapping &) = delete;
	~Mapping()
	{
		if (addr != MAP_FAILED)
			munmap(addr, len);
	}
};

struct Map {
	Fd fd;
	bpf_map_info info{};
};

// map ids given with --map-ids (0: look up by name)
__u32 g_tasks_id, g_ctl_id;

bool map_by_id(__u32 id, Map &out, std::string &error)
{
	Fd fd(bpf_map_get_fd_by_id(id));
	__u32 len = sizeof(out.info);
	if (!fd || bpf_map_get_info_by_fd(fd.get(), &out.info, &len) != 0) {
		error = "no BPF map with id " + std::to_string(id) + ": " + std::strerror(errno);
		return false;
	}
	out.fd = std::move(fd);
	return true;
}

// The newest map called `name`.
bool find_map(const char *name, Map &out, std::string &error)
{
	__u32 id = 0, best = 0;
	bool denied = false;
	while (bpf_map_get_next_id(id, &id) == 0) {
		Fd fd(bpf_map_get_fd_by_id(id));
		if (!fd) {
			denied |= errno == EPERM || errno == EACCES;
			continue;
		}
		bpf_map_info info{};
		__u32 len = sizeof(info);
		if (bpf_map_get_info_by_fd(fd.get(), &info, &len) != 0)
			continue;
		if (std::strncmp(info.name, name, sizeof(info.name)) == 0 && id > best) {
			best = id;
			out.fd = std::move(fd);
			out.info = info;
		}
	}
	if (best)
		return true;
	if (errno == EPERM || denied)
		error = "permission denied reading BPF maps: run as root";
	else
		error = std::string("no BPF map '") + name + "': is lotto-host running on a sched_ext kernel?";
	return false;
}

bool map_mem(Map &m, size_t value_size, int prot, Mapping &out, std::string &error)
{
	if (m.info.value_size != value_size) {
		error = std::string("map ") + m.info.name + " has values of " + std::to_string(m.info.value_size) +
			" bytes, this lotto-ctl expects " + std::to_string(value_size) + " (rebuild it)";
		return false;
	}
	if (!(m.info.map_flags & BPF_F_MMAPABLE)) {
		error = std::string("map ") + m.info.name + " is not mmapable";
		return false;
	}
	size_t page = sysconf(_SC_PAGESIZE);
	size_t len = (size_t(m.info.max_entries) * value_size + page - 1) / page * page;
	void *p = mmap(nullptr, len, prot, MAP_SHARED, m.fd.get(), 0);
	if (p == MAP_FAILED) {
		error = std::string("mmap ") + m.info.name + ": " + std::strerror(errno);
		return false;
	}
	out = Mapping(p, len);
	return true;
}

struct Lotto {
	Map tasks_map, ctl_map;
	Mapping tasks_mem, ctl_mem;
	const volatile lotto_task_stat *tasks = nullptr;
	volatile lotto_ctl *ctl = nullptr;
	__u32 n = 0;

	bool open(bool writable, std::string &error)
	{
		if (!(g_tasks_id ? map_by_id(g_tasks_id, tasks_map, error) : find_map("lotto_tasks", tasks_map, error)) ||
		    !map_mem(tasks_map, sizeof(lotto_task_stat), PROT_READ, tasks_mem, error))
			return false;
		tasks = static_cast<const volatile lotto_task_stat *>(tasks_mem.addr);
		n = tasks_map.info.max_entries;
		if (writable) {
			if (!(g_ctl_id ? map_by_id(g_ctl_id, ctl_map, error) : find_map("lotto_ctl", ctl_map, error)) ||
			    !map_mem(ctl_map, sizeof(lotto_ctl), PROT_READ | PROT_WRITE, ctl_mem, error))
				return false;
			ctl = static_cast<volatile lotto_ctl *>(ctl_mem.addr);
			if (ctl_map.info.max_entries < n)
				n = ctl_map.info.max_entries;
		}
		return true;
	}

	// slot of thread `pid`, or -1
	long slot_of(__u32 pid) const
	{
		for (__u32 i = 0; i < n; i++)
			if (tasks[i].pid == pid)
				return i;
		return -1;
	}

	long wait_slot(__u32 pid, int wait_ms) const
	{
		auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
		for (;;) {
			long s = slot_of(pid);
			if (s >= 0 || std::chrono::steady_clock::now() >= until)
				return s;
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		}
	}
};

// a consistent copy of one slot (BPF may be writing it)
lotto_task_stat snapshot(const volatile lotto_task_stat &s)
{
	lotto_task_stat t;
	std::memcpy(&t, const_cast<const lotto_task_stat *>(&s), sizeof(t));
	t.comm[LOTTO_COMM_LEN - 1] = 0;
	return t;
}

template <typename T> bool parse(std::string_view s, T lo, T hi, T &v)
{
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	return ec == std::errc() && p == s.data() + s.size() && v >= lo && v <= hi;
}

int usage_error(const std::string &msg)
{
	std::fprintf(stderr, "lotto-ctl: %s (try --help)\n", msg.c_str());
	return 2;
}

int fail(const std::string &msg)
{
	std::fprintf(stderr, "lotto-ctl: %s\n", msg.c_str());
	return 1;
}

using Wants = std::vector<std::pair<__u32, __u32>>;

// PID TICKETS pairs, checked before any map is touched
int parse_set(char **args, int nargs, Wants &want)
{
	if (nargs < 2 || nargs % 2)
		return usage_error("set needs PID TICKETS pairs");
	for (int i = 0; i < nargs; i += 2) {
		__u32 pid, tickets;
		if (!parse<__u32>(args[i], 1, 0x7fffffff, pid))
			return usage_error(std::string("'") + args[i] + "' is not a pid");
		if (!parse<__u32>(args[i + 1], LOTTO_TICKETS_MIN, LOTTO_TICKETS_MAX, tickets))
			return usage_error(std::string("tickets '") + args[i + 1] + "' are not an integer in 1..1000000");
		want.emplace_back(pid, tickets);
	}
	return 0;
}

int cmd_set(Lotto &l, const Wants &want, int wait_ms)
{
	for (auto [pid, tickets] : want) {
		long s = l.wait_slot(pid, wait_ms);
		if (s < 0)
			return fail("pid " + std::to_string(pid) + " is not a lotto task (not in lotto_tasks after " +
				    std::to_string(wait_ms) + " ms; does it exist?)");
		// one 64-bit store: BPF never sees a pid with another task's tickets
		lotto_ctl v{pid, tickets};
		__u64 word;
		std::memcpy(&word, &v, sizeof(word));
		__atomic_store_n(reinterpret_cast<volatile __u64 *>(&l.ctl[s]), word, __ATOMIC_RELEASE);
	}
	return 0;
}

void print_kv(const lotto_task_stat &t, long slot)
{
	std::printf("pid=%u tgid=%u comm=%s slot=%ld nice=%d uid=%u tickets=%u comp_q10=%u runtime_ns=%llu wins=%llu "
		    "wait_ns=%llu wait_max_ns=%llu waits=%llu rescues=%llu last_cpu=%u group=%u funded_by=%u "
		    "funded_tickets=%u\n",
		    t.pid, t.tgid, t.comm, slot, t.nice, t.uid, t.tickets, t.comp_q10, (unsigned long long)t.runtime_ns,
		    (unsigned long long)t.wins, (unsigned long long)t.wait_ns, (unsigned long long)t.wait_max_ns,
		    (unsigned long long)t.waits, (unsigned long long)t.rescues, t.last_cpu, t.group, t.funded_by,
		    t.funded_tickets);
}

int cmd_get(Lotto &l, __u32 pid, int wait_ms)
{
	long s = l.wait_slot(pid, wait_ms);
	if (s < 0)
		return fail("pid " + std::to_string(pid) + " is not a lotto task");
	print_kv(snapshot(l.tasks[s]), s);
	return 0;
}

int cmd_dump(Lotto &l)
{
	std::printf("%7s %7s %-16s %8s %4s %5s %12s %9s %10s %10s %7s %3s\n", "PID", "TGID", "COMM", "TICKETS", "NICE",
		    "COMP", "RUNTIME_MS", "WINS", "WAIT_AVGUS", "WAIT_MAXUS", "RESCUES", "CPU");
	for (__u32 i = 0; i < l.n; i++) {
		if (l.tasks[i].pid == 0)
			continue;
		lotto_task_stat t = snapshot(l.tasks[i]);
		if (t.pid == 0)
			continue;
		double avg = t.waits ? double(t.wait_ns) / double(t.waits) / 1e3 : 0.0;
		std::printf("%7u %7u %-16s %8u %4d %5.2f %12.1f %9llu %10.1f %10.1f %7llu %3u\n", t.pid, t.tgid, t.comm,
			    t.tickets, t.nice, t.comp_q10 / 1024.0, t.runtime_ns / 1e6, (unsigned long long)t.wins, avg,
			    t.wait_max_ns / 1e3, (unsigned long long)t.rescues, t.last_cpu);
	}
	return 0;
}

// the whole of a small mmapable map, writable or not
template <typename T> bool map_array(const char *name, int prot, Map &m, Mapping &mem, T *&out, std::string &error)
{
	if (!find_map(name, m, error) || !map_mem(m, sizeof(T), prot, mem, error))
		return false;
	out = static_cast<T *>(mem.addr);
	return true;
}

int cmd_groups()
{
	static const char *const kinds[] = {"free", "root", "cgroup", "policy"};
	Map m;
	Mapping mem;
	lotto_group_stat *g;
	std::string error;
	if (!map_array("lotto_groups", PROT_READ, m, mem, g, error))
		return fail(error);
	std::printf("%5s %-6s %10s %7s %8s %12s %9s\n", "GID", "KIND", "CGROUP", "WEIGHT", "FUNDING", "RUNTIME_MS", "WINS");
	for (__u32 i = 0; i < m.info.max_entries; i++) {
		lotto_group_stat s;
		std::memcpy(&s, &g[i], sizeof(s));
		if (s.kind == LOTTO_GROUP_FREE || s.kind > LOTTO_GROUP_POLICY)
			continue;
		std::printf("%5u %-6s %10llu %7u %8u %12.1f %9llu\n", i, kinds[s.kind], (unsigned long long)s.cgroup_id,
			    s.weight, s.funding, s.runtime_ns / 1e6, (unsigned long long)s.wins);
	}
	return 0;
}

// PID GID pairs: one pass over the task table finds every slot (thousands
// of pids at once stay cheap)
int cmd_setgroup(Lotto &l, const Wants &want, int wait_ms)
{
	Map m;
	Mapping mem;
	lotto_task_group *tg;
	std::string error;
	if (!map_array("lotto_task_grou", PROT_READ | PROT_WRITE, m, mem, tg, error))
		return fail(error);
	std::unordered_map<__u32, long> slot;
	for (auto [pid, gid] : want)
		slot.emplace(pid, -1);
	size_t found = 0;
	auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
	for (;;) {
		for (__u32 i = 0; i < l.n && found < slot.size(); i++) {
			__u32 pid = l.tasks[i].pid;
			auto it = slot.find(pid);
			if (pid && it != slot.end() && it->second < 0) {
				it->second = i;
				found++;
			}
		}
		if (found == slot.size() || std::chrono::steady_clock::now() >= until)
			break;
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	for (auto [pid, gid] : want) {
		long s = slot[pid];
		if (s < 0)
			return fail("pid " + std::to_string(pid) + " is not a lotto task");
		__atomic_store_n(reinterpret_cast<volatile __u64 *>(&tg[s]), lotto_task_group_pack(gid ? pid : 0, gid),
				 __ATOMIC_RELEASE);
	}
	return 0;
}

int cmd_fund(const Wants &want)
{
	Map m;
	Mapping mem;
	lotto_group_ctl *gc;
	std::string error;
	if (!map_array("lotto_group_ctl", PROT_READ | PROT_WRITE, m, mem, gc, error))
		return fail(error);
	for (auto [gid, funding] : want)
		__atomic_store_n(&gc[gid].funding, funding, __ATOMIC_RELEASE);
	return 0;
}

// memlock of a BPF object's fd, as the kernel accounts it (fdinfo)
unsigned long long fd_memlock(int fd)
{
	std::ifstream f("/proc/self/fdinfo/" + std::to_string(fd));
	std::string line;
	while (std::getline(f, line))
		if (line.rfind("memlock:", 0) == 0)
			return std::strtoull(line.c_str() + 8, nullptr, 10);
	return 0;
}

// The newest generation of lotto's struct_ops programs (highest id per name),
// their run statistics, and the maps they use.
int cmd_progstats()
{
	struct Prog {
		__u32 id = 0;
		bpf_prog_info info{};
	};
	std::map<std::string, Prog> progs;
	__u32 id = 0;
	bool denied = false;
	while (bpf_prog_get_next_id(id, &id) == 0) {
		Fd fd(bpf_prog_get_fd_by_id(id));
		if (!fd) {
			denied |= errno == EPERM || errno == EACCES;
			continue;
		}
		bpf_prog_info info{};
		__u32 len = sizeof(info);
		if (bpf_prog_get_info_by_fd(fd.get(), &info, &len) != 0)
			continue;
		// the struct_ops callbacks and the sched_waking tracepoint (transfers)
		if ((info.type != BPF_PROG_TYPE_STRUCT_OPS && info.type != BPF_PROG_TYPE_TRACING) ||
		    std::strncmp(info.name, "lotto_", 6) != 0)
			continue;
		std::string name(info.name, strnlen(info.name, sizeof(info.name)));
		Prog &p = progs[name];
		if (id > p.id) {
			p.id = id;
			p.info = info;
		}
	}
	if (progs.empty())
		return fail(denied ? "permission denied reading BPF programs: run as root"
				   : "no lotto struct_ops programs: is lotto-host running on a sched_ext kernel?");
	std::set<__u32> map_ids;
	for (auto &[name, p] : progs) {
		auto &i = p.info;
		std::printf("prog %s id=%u run_cnt=%llu run_time_ns=%llu ns_per_run=%.1f\n", name.c_str(), p.id,
			    (unsigned long long)i.run_cnt, (unsigned long long)i.run_time_ns,
			    i.run_cnt ? double(i.run_time_ns) / double(i.run_cnt) : 0.0);
		Fd fd(bpf_prog_get_fd_by_id(p.id));
		if (!fd || !i.nr_map_ids)
			continue;
		std::vector<__u32> ids(i.nr_map_ids);
		bpf_prog_info mi{};
		mi.nr_map_ids = i.nr_map_ids;
		mi.map_ids = reinterpret_cast<__u64>(ids.data());
		__u32 len = sizeof(mi);
		if (bpf_prog_get_info_by_fd(fd.get(), &mi, &len) == 0)
			map_ids.insert(ids.begin(), ids.begin() + std::min(mi.nr_map_ids, i.nr_map_ids));
	}
	unsigned long long total = 0;
	for (__u32 mid : map_ids) {
		Map m;
		std::string error;
		if (!map_by_id(mid, m, error))
			continue;
		unsigned long long ml = fd_memlock(m.fd.get());
		total += ml;
		std::printf("map %.*s id=%u type=%u max_entries=%u value_size=%u memlock=%llu\n", int(sizeof(m.info.name)),
			    m.info.name, mid, m.info.type, m.info.max_entries, m.info.value_size, ml);
	}
	std::printf("maps count=%zu memlock=%llu\n", map_ids.size(), total);
	return 0;
}

int cmd_stats()
{
	Map m;
	std::string error;
	if (!find_map("lotto_stats", m, error))
		return fail(error);
	if (m.info.value_size != sizeof(__u64) * LOTTO_STAT_NR)
		return fail("map lotto_stats has values of " + std::to_string(m.info.value_size) +
			    " bytes, this lotto-ctl expects " + std::to_string(sizeof(__u64) * LOTTO_STAT_NR));
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return fail("cannot count the possible CPUs");
	std::vector<__u64> vals(size_t(ncpu) * LOTTO_STAT_NR);
	__u32 key = 0;
	if (bpf_map_lookup_elem(m.fd.get(), &key, vals.data()) != 0)
		return fail(std::string("reading lotto_stats: ") + std::strerror(errno));
	for (int s = 0; s < LOTTO_STAT_NR; s++) {
		__u64 sum = 0;
		for (int c = 0; c < ncpu; c++)
			sum += vals[size_t(c) * LOTTO_STAT_NR + s];
		std::printf("%s=%llu\n", lotto_stat_names[s], (unsigned long long)sum);
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	int wait_ms = 3000;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		std::string_view a = argv[i];
		if (a == "-h" || a == "--help") {
			std::fputs(kUsage, stdout);
			return 0;
		}
		if (a == "--wait") {
			if (i + 1 >= argc || !parse<int>(argv[i + 1], 0, 600000, wait_ms))
				return usage_error("--wait needs milliseconds (0..600000)");
			i++;
			continue;
		}
		if (a == "--map-ids") {
			std::string_view v = i + 1 < argc ? argv[i + 1] : "";
			auto comma = v.find(',');
			if (comma == v.npos || !parse<__u32>(v.substr(0, comma), 1, 0xffffffff, g_tasks_id) ||
			    !parse<__u32>(v.substr(comma + 1), 1, 0xffffffff, g_ctl_id))
				return usage_error("--map-ids needs TASKS_ID,CTL_ID");
			i++;
			continue;
		}
		return usage_error("unknown option '" + std::string(a) + "'");
	}
	if (i >= argc)
		return usage_error("no command");
	std::string_view cmd = argv[i++];
	char **args = argv + i;
	int nargs = argc - i;
	__u32 pid = 0;

	if (cmd == "stats")
		return nargs ? usage_error("stats takes no arguments") : cmd_stats();
	if (cmd == "groups")
		return nargs ? usage_error("groups takes no arguments") : cmd_groups();
	if (cmd == "progstats")
		return nargs ? usage_error("progstats takes no arguments") : cmd_progstats();
	if (cmd == "fund") {
		Wants want;
		for (int k = 0; k < nargs; k += 2) {
			__u32 gid, funding;
			if (k + 1 >= nargs || !parse<__u32>(args[k], 1, LOTTO_MAX_GROUPS - 1, gid) ||
			    !(parse<__u32>(args[k + 1], 0, 0, funding) ||
			      parse<__u32>(args[k + 1], LOTTO_TICKETS_MIN, LOTTO_TICKETS_MAX, funding)))
				return usage_error("fund needs GID (1..1023) and FUNDING (1..1000000, or 0) pairs");
			want.emplace_back(gid, funding);
		}
		if (want.empty())
			return usage_error("fund needs GID (1..1023) and FUNDING (1..1000000, or 0) pairs");
		return cmd_fund(want);
	}
	if (cmd == "setgroup") {
		Wants want;
		for (int k = 0; k < nargs; k += 2) {
			__u32 gid;
			if (k + 1 >= nargs || !parse<__u32>(args[k], 1, 0x7fffffff, pid) ||
			    !(parse<__u32>(args[k + 1], 0, 0, gid) ||
			      parse<__u32>(args[k + 1], LOTTO_POLICY_GROUP_BASE, LOTTO_MAX_GROUPS - 1, gid)))
				return usage_error("setgroup needs PID and GID (512..1023, or 0) pairs");
			want.emplace_back(pid, gid);
		}
		if (want.empty())
			return usage_error("setgroup needs PID and GID (512..1023, or 0) pairs");
		Lotto l;
		std::string error;
		if (!l.open(false, error))
			return fail(error);
		return cmd_setgroup(l, want, wait_ms);
	}
	if (cmd != "set" && cmd != "get" && cmd != "dump")
		return usage_error("unknown command '" + std::string(cmd) + "'");
	if (cmd == "dump" && nargs)
		return usage_error("dump takes no arguments");
	Wants want;
	if (cmd == "set") {
		if (int rc = parse_set(args, nargs, want))
			return rc;
	} else if (cmd == "get") {
		if (nargs != 1 || !parse<__u32>(args[0], 1, 0x7fffffff, pid))
			return usage_error("get needs one PID");
	}

	Lotto l;
	std::string error;
	if (!l.open(cmd == "set", error))
		return fail(error);
	if (cmd == "set")
		return cmd_set(l, want, wait_ms);
	if (cmd == "get")
		return cmd_get(l, pid, wait_ms);
	return cmd_dump(l);
}

// kernel_backend.cpp — the real backend: the embedded lotto.bpf.o opened with
// bpf_object__open_mem, configured through .rodata, loaded, its slot tables
// mmaped MAP_SHARED (forked workers inherit them), attached as the system's
// sched_ext scheduler. stop() destroys the link: the default scheduler takes
// over again.
#include "core/backend.h"
#include "kernel/bpf_object.h"
#include "kernel/btf_vars.h"
#include "kernel/libbpf_log.h"
#include "kernel/preflight.h"

#include "lotto_bpf_obj.h"
extern "C" {
#include "bpf/lotto_math.h"
}

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <unordered_map>

namespace lotto {

namespace {

const char *exit_kind_name(int kind)
{
	switch (kind) {
	case 1: return "done";
	case 64: return "unregistered";
	case 65: return "unregistered by the BPF program";
	case 66: return "unregistered by the kernel";
	case 67: return "SysRq-S";
	case 68: return "parent scheduler exited";
	case 69: return "killed by the parent scheduler";
	case 1024: return "runtime error";
	case 1025: return "error raised by the BPF program";
	case 1026: return "watchdog: runnable task stall";
	default: return kind >= 1024 ? "error" : "exit";
	}
}

std::string errstr(int e)
{
	return strerror(e < 0 ? -e : e);
}

// A string field that the BPF side may have filled up to its last byte.
std::string bounded(const char *s, size_t cap)
{
	return std::string(s, strnlen(s, cap));
}

Result<Mmap> map_shared(bpf_map *m, int prot)
{
	size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
	size_t len = static_cast<size_t>(bpf_map__value_size(m)) * bpf_map__max_entries(m);
	len = (len + page - 1) / page * page;
	return Mapping::of_fd(bpf_map__fd(m), len, prot, std::string("BPF map ") + bpf_map__name(m));
}

constexpr size_t kMaxCgroupDirs = 20000;	// a walk of kernfs: memory only, a few ms

// cgroup2's directories by inode (= the cgroup id the core reports), at most
// `cap` of them, breadth first; symlinks are not followed
std::unordered_map<uint64_t, std::string> scan_cgroups(const std::string &root, size_t cap)
{
	namespace fs = std::filesystem;
	std::unordered_map<uint64_t, std::string> out;
	std::deque<std::string> todo{""};
	while (!todo.empty() && out.size() < cap) {
		std::string rel = std::move(todo.front());
		todo.pop_front();
		struct stat st;
		if (lstat((root + rel).c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		out.emplace(uint64_t(st.st_ino), rel.empty() ? "/" : rel);
		std::error_code ec;
		for (fs::directory_iterator it(root + rel, ec), end; !ec && it != end; it.increment(ec))
			if (it->is_directory(ec) && !it->is_symlink(ec))
				todo.push_back(rel + "/" + it->path().filename().string());
	}
	return out;
}

class KernelBackend final : public Backend {
public:
	explicit KernelBackend(const BackendConfig &cfg) : cfg_(cfg) {}
	~KernelBackend() override { stop(); }

	const char *name() const override { return "kernel"; }
	Result<void> start() override;
	void stop() override;

	const lotto_task_stat *tasks() const override
	{
		return static_cast<const lotto_task_stat *>(tasks_map_.get());
	}
	lotto_ctl *ctl() override { return static_cast<lotto_ctl *>(ctl_map_.get()); }
	uint32_t slots_hw() const override
	{
		if (!slots_hw_)
			return 0;
		uint32_t hw = __atomic_load_n(slots_hw_, __ATOMIC_ACQUIRE);
		return hw < LOTTO_MAX_TASKS ? hw : LOTTO_MAX_TASKS;
	}
	GlobalStats stats() const override;
	uint32_t nr_cpus() const override;
	std::optional<ExitInfo> exit_info() const override { return exit_; }
	void poll() override;
	const lotto_group_stat *group_stats() const override
	{
		return static_cast<const lotto_group_stat *>(groups_map_.get());
	}
	lotto_group_ctl *group_ctl() override { return static_cast<lotto_group_ctl *>(group_ctl_map_.get()); }
	lotto_task_group *task_groups() override { return static_cast<lotto_task_group *>(task_groups_map_.get()); }
	std::string cgroup_path(uint64_t id) override;

private:
	Result<void> check_config() const;
	Result<void> open_and_configure();
	Result<void> load();
	Result<void> map_tables();
	Result<void> attach();
	std::optional<ExitInfo> read_exit() const;

	BackendConfig cfg_;
	BpfObject obj_;
	BpfLink waking_;	// tp_btf/sched_waking: who woke whom (transfers)
	BpfLink link_;		// the scheduler itself
	Mmap tasks_map_;
	Mmap ctl_map_;
	Mmap bss_map_;
	Mmap groups_map_;
	Mmap group_ctl_map_;
	Mmap task_groups_map_;
	// cgroup id (its directory's inode on cgroup2) -> path, from a bounded
	// walk of /sys/fs/cgroup, redone at most every few seconds for an id it lacks
	std::unordered_map<uint64_t, std::string> cgroup_paths_;
	std::chrono::steady_clock::time_point cgroup_scan_{};
	bool cgroup_scanned_ = false;
	const lotto_exit_info *exit_rec_ = nullptr;	// in bss_map_
	const uint32_t *slots_hw_ = nullptr;		// ditto
	int stats_fd_ = -1;
	std::optional<ExitInfo> exit_;
	int disabled_polls_ = 0;	// polls that saw sched_ext disabled without an exit record
};

Result<void> KernelBackend::check_config() const
{
	return check_backend_config(cfg_);
}

Result<void> KernelBackend::open_and_configure()
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "lotto");
	bpf_object *o = bpf_object__open_mem(lotto_bpf_obj, lotto_bpf_obj_len, &opts);
	if (!o)
		return err("opening the embedded BPF object failed: " + errstr(errno) +
			   " (rebuild: cmake --build build)");
	obj_.reset(o);

	auto cfg_var = find_global(o, ".rodata", "lotto_cfg");
	if (!cfg_var)
		return cfg_var.error();
	if (cfg_var->size != sizeof(lotto_config))
		return err("the BPF object's lotto_cfg does not match bpf/lotto_abi.h (rebuild)");
	size_t sz = 0;
	auto *data = static_cast<char *>(bpf_map__initial_value(cfg_var->map, &sz));
	if (!data || cfg_var->offset + cfg_var->size > sz)
		return err("cannot reach lotto_cfg in the BPF object's .rodata");
	lotto_config c = bpf_config(cfg_);
	memcpy(data + cfg_var->offset, &c, sizeof(c));
	return {};
}

Result<void> KernelBackend::load()
{
	int e = bpf_object__load(obj_.get());
	if (e == 0)
		return {};
	std::string msg = "the kernel refused lotto's BPF program (" + errstr(e) + ")";
	auto tail = libbpf_log_tail(20);
	if (tail.empty()) {
		msg += "; run with -v for libbpf's output";
	} else {
		msg += "; last lines of the verifier/libbpf log:";
		for (auto &l : tail)
			msg += "\n    " + l;
	}
	return err(msg);
}

Result<void> KernelBackend::map_tables()
{
	bpf_object *o = obj_.get();
	bpf_map *tasks = bpf_object__find_map_by_name(o, "lotto_tasks");
	bpf_map *ctl = bpf_object__find_map_by_name(o, "lotto_ctl");
	bpf_map *stats = bpf_object__find_map_by_name(o, "lotto_stats");
	if (!tasks || !ctl || !stats)
		return err("the BPF object lacks lotto_tasks/lotto_ctl/lotto_stats (rebuild)");
	if (bpf_map__value_size(tasks) != sizeof(lotto_task_stat) ||
	    bpf_map__value_size(ctl) != sizeof(lotto_ctl) ||
	    bpf_map__value_size(stats) != sizeof(uint64_t) * LOTTO_STAT_NR ||
	    bpf_map__max_entries(tasks) != LOTTO_MAX_TASKS || bpf_map__max_entries(ctl) != LOTTO_MAX_TASKS)
		return err("the BPF object's maps do not match bpf/lotto_abi.h (rebuild)");

	auto t = map_shared(tasks, PROT_READ);
	if (!t)
		return t.error();
	auto c = map_shared(ctl, PROT_READ | PROT_WRITE);
	if (!c)
		return c.error();
	tasks_map_ = std::move(*t);
	ctl_map_ = std::move(*c);
	stats_fd_ = bpf_map__fd(stats);

	bpf_map *groups = bpf_object__find_map_by_name(o, "lotto_groups");
	bpf_map *group_ctl = bpf_object__find_map_by_name(o, "lotto_group_ctl");
	bpf_map *task_groups = bpf_object__find_map_by_name(o, "lotto_task_groups");
	if (!groups || !group_ctl || !task_groups)
		return err("the BPF object lacks lotto_groups/lotto_group_ctl/lotto_task_groups (rebuild)");
	if (bpf_map__value_size(groups) != sizeof(lotto_group_stat) ||
	    bpf_map__value_size(group_ctl) != sizeof(lotto_group_ctl) ||
	    bpf_map__value_size(task_groups) != sizeof(lotto_task_group) ||
	    bpf_map__max_entries(groups) != LOTTO_MAX_GROUPS || bpf_map__max_entries(group_ctl) != LOTTO_MAX_GROUPS ||
	    bpf_map__max_entries(task_groups) != LOTTO_MAX_TASKS)
		return err("the BPF object's group maps do not match bpf/lotto_abi.h (rebuild)");
	auto gs = map_shared(groups, PROT_READ);
	if (!gs)
		return gs.error();
	auto gc = map_shared(group_ctl, PROT_READ | PROT_WRITE);
	if (!gc)
		return gc.error();
	auto tg = map_shared(task_groups, PROT_READ | PROT_WRITE);
	if (!tg)
		return tg.error();
	groups_map_ = std::move(*gs);
	group_ctl_map_ = std::move(*gc);
	task_groups_map_ = std::move(*tg);

	auto ex = find_global(o, ".bss", "lotto_exit");
	if (!ex)
		return ex.error();
	auto hw = find_global(o, ".bss", "lotto_slots_hw");
	if (!hw)
		return hw.error();
	if (ex->size != sizeof(lotto_exit_info) || hw->size != sizeof(uint32_t))
		return err("the BPF object's .bss does not match bpf/lotto_abi.h (rebuild)");
	// Our own shared mapping of the .bss map: libbpf 1.4's
	// bpf_map__initial_value() still points at the pre-load copy after
	// bpf_object__load() (only skeletons get it remapped; 1.5 changed that).
	if (!(bpf_map__map_flags(ex->map) & BPF_F_MMAPABLE))
		return err("the kernel did not make lotto's .bss mmapable");
	auto b = map_shared(ex->map, PROT_READ);
	if (!b)
		return b.error();
	bss_map_ = std::move(*b);
	size_t sz = bpf_map__value_size(ex->map);
	if (ex->offset + ex->size > sz || hw->offset + hw->size > sz)
		return err("cannot reach the BPF program's .bss");
	auto *bss = static_cast<const char *>(bss_map_.get());
	exit_rec_ = reinterpret_cast<const lotto_exit_info *>(bss + ex->offset);
	slots_hw_ = reinterpret_cast<const uint32_t *>(bss + hw->offset);
	return {};
}

Result<void> KernelBackend::attach()
{
	bpf_map *ops = bpf_object__find_map_by_name(obj_.get(), "lotto_ops");
	if (!ops)
		return err("the BPF object has no lotto_ops struct_ops map (rebuild)");
	// first: every wake-up the scheduler sees has had its waker recorded
	bpf_program *waking = bpf_object__find_program_by_name(obj_.get(), "lotto_waking");
	if (!waking)
		return err("the BPF object has no lotto_waking program (rebuild)");
	bpf_link *w = bpf_program__attach(waking);
	if (!w)
		return err("attaching lotto's wake-up tracepoint (sched_waking) failed: " + errstr(errno));
	waking_.reset(w);
	bpf_link *l = bpf_map__attach_struct_ops(ops);
	if (l) {
		link_.reset(l);
		return {};
	}
	int e = errno;
	if (auto ex = read_exit())
		return err("lotto was stopped while attaching: " + ex->reason + (ex->msg.empty() ? "" : " (" + ex->msg + ")"));
	if (e == EEXIST || e == EBUSY) {
		auto other = scx_root_ops();
		return err("another sched_ext scheduler" + (other ? " ('" + *other + "')" : std::string()) +
			   " is attached: stop it first, then start lotto-host");
	}
	return err("attaching lotto as the sched_ext scheduler failed: " + errstr(e) +
		   " (run with -v for libbpf's output)");
}

Result<void> KernelBackend::start()
{
	if (link_)
		return {};
	exit_.reset();
	disabled_polls_ = 0;
	if (auto r = check_config(); !r)
		return r;
	if (auto r = preflight(); !r)
		return r;
	libbpf_log_install(cfg_.verbose);
	libbpf_log_clear();

	Result<void> r = open_and_configure();
	if (r)
		r = load();
	if (r)
		r = map_tables();
	if (r)
		r = attach();
	if (!r) {
		stop();
		return r;
	}
	spdlog::info("lotto attached: {} CPUs, {} (state {}, ops {})", nr_cpus(), describe_timing(cfg_),
		     scx_state().value_or("?"), scx_root_ops().value_or("?"));
	return {};
}

void KernelBackend::stop()
{
	bool was_attached = static_cast<bool>(link_);
	link_.reset();
	waking_.reset();
	tasks_map_.reset();
	ctl_map_.reset();
	bss_map_.reset();
	groups_map_.reset();
	group_ctl_map_.reset();
	task_groups_map_.reset();
	exit_rec_ = nullptr;
	slots_hw_ = nullptr;
	stats_fd_ = -1;
	obj_.reset();
	if (was_attached)
		spdlog::info("lotto detached: the kernel's default scheduler runs every task again (state {})",
			     scx_state().value_or("?"));
}

std::optional<ExitInfo> KernelBackend::read_exit() const
{
	if (!exit_rec_)
		return std::nullopt;
	int kind = __atomic_load_n(&exit_rec_->kind, __ATOMIC_ACQUIRE);
	if (kind == 0)
		return std::nullopt;
	ExitInfo ex;
	ex.kind = kind;
	ex.exit_code = exit_rec_->exit_code;
	ex.reason = bounded(exit_rec_->reason, sizeof(exit_rec_->reason));
	ex.msg = bounded(exit_rec_->msg, sizeof(exit_rec_->msg));
	if (ex.reason.empty())
		ex.reason = exit_kind_name(kind);
	ex.reason += " [" + std::string(exit_kind_name(kind)) + ", kind " + std::to_string(kind) + "]";
	return ex;
}

void KernelBackend::poll()
{
	if (!link_ || exit_)
		return;
	if ((exit_ = read_exit()))
		return;
	// No exit recorded but no longer in charge. The kernel marks sched_ext
	// disabled before it calls ops.exit, so give the record a few polls to
	// arrive before reporting without it.
	auto state = scx_state();
	if (!state || *state != "disabled") {
		disabled_polls_ = 0;
		return;
	}
	if (++disabled_polls_ >= 5)
		exit_ = ExitInfo{0, 0, "sched_ext is disabled", "lotto is no longer attached"};
}

GlobalStats KernelBackend::stats() const
{
	GlobalStats g;
	if (stats_fd_ < 0)
		return g;
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return g;
	std::vector<uint64_t> buf(static_cast<size_t>(ncpu) * LOTTO_STAT_NR);
	uint32_t key = 0;
	if (bpf_map_lookup_elem(stats_fd_, &key, buf.data()) != 0)
		return g;
	g.per_cpu.resize(ncpu);
	for (int c = 0; c < ncpu; c++)
		for (int i = 0; i < LOTTO_STAT_NR; i++) {
			uint64_t v = buf[static_cast<size_t>(c) * LOTTO_STAT_NR + i];
			g.per_cpu[c][i] = v;
			g.total[i] += v;
		}
	return g;
}

std::string KernelBackend::cgroup_path(uint64_t id)
{
	if (id == 0)
		return "";
	if (auto it = cgroup_paths_.find(id); it != cgroup_paths_.end())
		return it->second;
	auto now = std::chrono::steady_clock::now();
	if (cgroup_scanned_ && now - cgroup_scan_ < std::chrono::seconds(5))
		return "";
	cgroup_scanned_ = true;
	cgroup_scan_ = now;
	cgroup_paths_ = scan_cgroups("/sys/fs/cgroup", kMaxCgroupDirs);
	auto it = cgroup_paths_.find(id);
	return it != cgroup_paths_.end() ? it->second : "";
}

uint32_t KernelBackend::nr_cpus() const
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? static_cast<uint32_t>(n) : 1;
}

} // namespace

std::unique_ptr<Backend> make_kernel_backend(const BackendConfig &cfg)
{
	return std::make_unique<KernelBackend>(cfg);
}

} // namespace lotto

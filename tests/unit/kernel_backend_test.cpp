// Unit tests of host/kernel/ that need no sched_ext kernel: the preflight
// messages (against a fake sysfs), the embedded BPF object's layout as the
// loader finds it through BTF (opened, never loaded), and the verifier-log
// tail a failed load prints.
#include "core/backend.h"
#include "kernel/btf_vars.h"
#include "kernel/libbpf_log.h"
#include "kernel/preflight.h"

#include "lotto_bpf_obj.h"

#include <catch2/catch_test_macros.hpp>

#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstdarg>
#include <filesystem>
#include <fstream>
#include <memory>

using namespace lotto;
namespace fs = std::filesystem;

namespace {

// a throw-away directory laid out like /sys/kernel/sched_ext and /sys/kernel/btf
class FakeSysfs {
public:
	FakeSysfs()
	{
		char tmpl[] = "/tmp/lotto-sysfs-XXXXXX";
		dir_ = mkdtemp(tmpl);
		paths.root = dir_ + "/sched_ext";
		paths.btf = dir_ + "/btf/vmlinux";
	}
	~FakeSysfs() { fs::remove_all(dir_); }
	void write(const std::string &path, const std::string &text)
	{
		fs::create_directories(fs::path(path).parent_path());
		std::ofstream(path) << text;
	}
	void with_sched_ext(const std::string &state) { write(paths.root + "/state", state + "\n"); }
	void with_btf() { write(paths.btf, "BTF"); }

	ScxSysfs paths;

private:
	std::string dir_;
};

struct ObjectClose {
	void operator()(bpf_object *o) const { bpf_object__close(o); }
};
using Object = std::unique_ptr<bpf_object, ObjectClose>;

Object open_embedded()
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "lotto");
	return Object(bpf_object__open_mem(lotto_bpf_obj, lotto_bpf_obj_len, &opts));
}

libbpf_print_fn_t installed_printer;

int print(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = installed_printer(LIBBPF_WARN, fmt, ap);
	va_end(ap);
	return r;
}

} // namespace

TEST_CASE("preflight on a kernel without sched_ext points to the VM", "[kernel]")
{
	FakeSysfs sys;
	sys.with_btf();
	auto r = preflight(sys.paths);
	REQUIRE_FALSE(r.ok());
	CHECK(r.error().msg.find("no sched_ext") != std::string::npos);
	CHECK(r.error().msg.find("scripts/run.sh") != std::string::npos);
	CHECK(r.error().msg.find('\n') == std::string::npos);
}

TEST_CASE("preflight on a kernel without BTF says so", "[kernel]")
{
	FakeSysfs sys;
	sys.with_sched_ext("disabled");
	auto r = preflight(sys.paths);
	REQUIRE_FALSE(r.ok());
	CHECK(r.error().msg.find("no BTF") != std::string::npos);
}

TEST_CASE("preflight names the sched_ext scheduler already attached", "[kernel]")
{
	if (geteuid() != 0)
		SKIP("the root check comes first; run as root to reach this one");
	FakeSysfs sys;
	sys.with_btf();
	sys.with_sched_ext("enabled");
	sys.write(sys.paths.root + "/root/ops", "scx_rusty\n");
	auto r = preflight(sys.paths);
	REQUIRE_FALSE(r.ok());
	CHECK(r.error().msg.find("'scx_rusty'") != std::string::npos);
	CHECK(r.error().msg.find("stop it first") != std::string::npos);

	sys.with_sched_ext("disabled");
	CHECK(preflight(sys.paths).ok());
}

TEST_CASE("the kernel backend fails with one line, not a crash, where it cannot attach", "[kernel]")
{
	if (kernel_has_sched_ext())
		SKIP("this kernel has sched_ext: the VM tests cover attaching");
	auto b = make_kernel_backend(BackendConfig{});
	auto r = b->start();
	REQUIRE_FALSE(r.ok());
	CHECK(r.error().msg.find("sched_ext") != std::string::npos);
	CHECK(b->tasks() == nullptr);
	CHECK_FALSE(b->exit_info().has_value());
	b->stop();	// idempotent
}

TEST_CASE("the kernel backend rejects settings outside their ranges", "[kernel]")
{
	BackendConfig cfg;
	cfg.default_tickets = 0;
	auto r = make_kernel_backend(cfg)->start();
	REQUIRE_FALSE(r.ok());
	CHECK(r.error().msg.find("tickets") != std::string::npos);
}

TEST_CASE("the embedded BPF object carries lotto_cfg where the loader writes it", "[kernel]")
{
	auto obj = open_embedded();
	REQUIRE(obj);
	auto cfg = find_global(obj.get(), ".rodata", "lotto_cfg");
	REQUIRE(cfg.ok());
	CHECK(cfg->size == sizeof(lotto_config));
	size_t sz = 0;
	auto *data = static_cast<const char *>(bpf_map__initial_value(cfg->map, &sz));
	REQUIRE(data);
	REQUIRE(cfg->offset + cfg->size <= sz);
	// the compiled-in defaults, before the host overwrites them
	lotto_config c;
	memcpy(&c, data + cfg->offset, sizeof(c));
	CHECK(c.default_tickets == LOTTO_TICKETS_DEFAULT);
	CHECK(c.slice_us == LOTTO_SLICE_US_DEFAULT);
	CHECK(c.starve_ms == LOTTO_STARVE_MS_DEFAULT);
	CHECK(c.compensation == 1);

	CHECK_FALSE(find_global(obj.get(), ".rodata", "no_such_var").ok());
}

TEST_CASE("the embedded BPF object matches the ABI header", "[kernel]")
{
	auto obj = open_embedded();
	REQUIRE(obj);
	auto ex = find_global(obj.get(), ".bss", "lotto_exit");
	auto hw = find_global(obj.get(), ".bss", "lotto_slots_hw");
	REQUIRE(ex.ok());
	REQUIRE(hw.ok());
	CHECK(ex->size == sizeof(lotto_exit_info));
	CHECK(hw->size == sizeof(uint32_t));

	bpf_map *tasks = bpf_object__find_map_by_name(obj.get(), "lotto_tasks");
	bpf_map *ctl = bpf_object__find_map_by_name(obj.get(), "lotto_ctl");
	bpf_map *stats = bpf_object__find_map_by_name(obj.get(), "lotto_stats");
	bpf_map *ops = bpf_object__find_map_by_name(obj.get(), "lotto_ops");
	REQUIRE(tasks);
	REQUIRE(ctl);
	REQUIRE(stats);
	REQUIRE(ops);
	CHECK(bpf_map__value_size(tasks) == sizeof(lotto_task_stat));
	CHECK(bpf_map__max_entries(tasks) == LOTTO_MAX_TASKS);
	CHECK((bpf_map__map_flags(tasks) & BPF_F_MMAPABLE));
	CHECK(bpf_map__value_size(ctl) == sizeof(lotto_ctl));
	CHECK((bpf_map__map_flags(ctl) & BPF_F_MMAPABLE));
	CHECK(bpf_map__value_size(stats) == sizeof(uint64_t) * LOTTO_STAT_NR);
	CHECK(bpf_map__type(ops) == BPF_MAP_TYPE_STRUCT_OPS);

	// the group maps, by the names the kernel backend maps them by
	bpf_map *groups = bpf_object__find_map_by_name(obj.get(), "lotto_groups");
	bpf_map *group_ctl = bpf_object__find_map_by_name(obj.get(), "lotto_group_ctl");
	bpf_map *task_groups = bpf_object__find_map_by_name(obj.get(), "lotto_task_groups");
	REQUIRE(groups);
	REQUIRE(group_ctl);
	REQUIRE(task_groups);
	CHECK(bpf_map__value_size(groups) == sizeof(lotto_group_stat));
	CHECK(bpf_map__max_entries(groups) == LOTTO_MAX_GROUPS);
	CHECK(bpf_map__value_size(group_ctl) == sizeof(lotto_group_ctl));
	CHECK(bpf_map__max_entries(group_ctl) == LOTTO_MAX_GROUPS);
	CHECK(bpf_map__value_size(task_groups) == sizeof(lotto_task_group));
	CHECK(bpf_map__max_entries(task_groups) == LOTTO_MAX_TASKS);
	for (auto *m : {groups, group_ctl, task_groups})
		CHECK((bpf_map__map_flags(m) & BPF_F_MMAPABLE));
}

TEST_CASE("a failed load shows the end of the verifier log, not libbpf's summary", "[kernel]")
{
	libbpf_log_install(false);
	installed_printer = libbpf_set_print(nullptr);
	REQUIRE(installed_printer);
	libbpf_set_print(installed_printer);
	libbpf_log_clear();

	print("libbpf: loading object 'lotto'\n");
	print("libbpf: prog 'lotto_dispatch': -- BEGIN PROG LOAD LOG --\n%s-- END PROG LOAD LOG --\n",
	      "0: (b7) r0 = 0\n1: (95) exit\nR1 invalid mem access 'scalar'\nprocessed 2 insns\n");
	print("libbpf: prog 'lotto_dispatch': failed to load: %d\n", -13);

	auto tail = libbpf_log_tail(3);
	REQUIRE(tail.size() == 3);
	CHECK(tail[0] == "1: (95) exit");
	CHECK(tail[1] == "R1 invalid mem access 'scalar'");
	CHECK(tail[2] == "processed 2 insns");

	libbpf_log_clear();
	print("libbpf: map 'lotto_tasks': failed to create: %s\n", "Operation not permitted");
	tail = libbpf_log_tail(20);
	REQUIRE(tail.size() == 1);	// no verifier log: libbpf's own last lines
	CHECK(tail[0].find("failed to create") != std::string::npos);
}

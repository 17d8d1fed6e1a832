#include "fixture.h"

#include <catch2/catch_test_macros.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace lotto::test {

TableBackend::TableBackend(uint32_t ncpus) : ncpus_(ncpus)
{
	auto t = policy::SharedRegion::shared(size_t(LOTTO_MAX_TASKS) * sizeof(lotto_task_stat));
	auto c = policy::SharedRegion::shared(size_t(LOTTO_MAX_TASKS) * sizeof(lotto_ctl));
	REQUIRE(t.ok());
	REQUIRE(c.ok());
	tasks_ = std::move(*t);
	ctl_ = std::move(*c);
}

lotto_task_stat &TableBackend::add(uint32_t slot, uint32_t pid, int nice, uint32_t uid, const char *comm)
{
	auto &s = at(slot);
	uint32_t gen = s.gen + 1;
	memset(&s, 0, sizeof(s));
	s.gen = gen;
	s.tgid = pid;
	s.nice = nice;
	s.uid = uid;
	s.comp_q10 = 1024;
	strncpy(s.comm, comm, sizeof(s.comm) - 1);
	__atomic_store_n(&s.pid, pid, __ATOMIC_RELEASE);
	if (slot + 1 > hw_)
		hw_ = slot + 1;
	return s;
}

void TableBackend::remove(uint32_t slot)
{
	__atomic_store_n(&at(slot).pid, 0u, __ATOMIC_RELEASE);
}

uint32_t TableBackend::ctl_tickets(uint32_t slot)
{
	auto &c = ctl()[slot];
	return c.pid == at(slot).pid ? c.tickets : 0;
}

TempDir::TempDir()
{
	char tmpl[] = "/tmp/lotto-policy-XXXXXX";
	REQUIRE(mkdtemp(tmpl) != nullptr);
	path_ = tmpl;
}

TempDir::~TempDir()
{
	std::error_code ec;
	std::filesystem::remove_all(path_, ec);
}

LogCapture::LogCapture() : prev_(spdlog::default_logger())
{
	auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out_);
	auto logger = std::make_shared<spdlog::logger>("lotto-test", sink);
	logger->set_level(spdlog::level::trace);
	logger->set_pattern("%l: %v");
	spdlog::set_default_logger(logger);
}

LogCapture::~LogCapture()
{
	spdlog::set_default_logger(prev_);
}

std::string LogCapture::text()
{
	return out_.str();
}

Harness::Harness(policy::EngineOptions o, uint32_t ncpus)
	: backend(ncpus), book(backend, LOTTO_TICKETS_DEFAULT), groups(backend)
{
	REQUIRE(loop.valid());
	engine = std::make_unique<policy::Engine>(loop, backend, book, o);
	engine->set_group_book(&groups);
}

static void write_file(const std::string &path, const std::string &text)
{
	std::ofstream f(path, std::ios::binary | std::ios::trunc);
	f << text;
	f.close();
	REQUIRE(f.good());
}

std::string Harness::write(const std::string &name, const std::string &text)
{
	std::string p = dir.file(name);
	write_file(p, text);
	return p;
}

std::string Harness::write_rename(const std::string &name, const std::string &text)
{
	std::string tmp = dir.file("." + name + ".swp");
	write_file(tmp, text);
	std::string p = dir.file(name);
	REQUIRE(rename(tmp.c_str(), p.c_str()) == 0);
	return p;
}

bool Harness::run_until(const std::function<bool()> &pred, std::chrono::milliseconds timeout)
{
	auto end = std::chrono::steady_clock::now() + timeout;
	while (!pred()) {
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
		if (left.count() <= 0)
			return pred();
		loop.run_once(int(std::min<long>(left.count(), 10)));
	}
	return true;
}

void Harness::run_for(std::chrono::milliseconds d)
{
	(void)run_until([] { return false; }, d);
}

policy::PolicyInfo Harness::info(const std::string &name)
{
	for (auto &i : engine->list())
		if (i.name == name)
			return i;
	FAIL("no policy " << name);
	return {};
}

std::string Harness::eval(const std::string &name, const std::string &expr, bool admin)
{
	auto r = engine->eval("@" + name + " " + expr, admin);
	return r ? *r : "ERROR: " + r.error().msg;
}

std::string policy_src(const std::string &name, const std::string &tick_body, int interval_ms,
		       const std::string &extra)
{
	return "return {\n"
	       "  name = \"" + name + "\",\n"
	       "  interval_ms = " + std::to_string(interval_ms) + ",\n" +
	       extra +
	       "  tick = function(tasks, ctx)\n" + tick_body + "\n  end,\n"
	       "}\n";
}

} // namespace lotto::test

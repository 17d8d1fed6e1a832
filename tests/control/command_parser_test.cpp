#include "command_parser.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

using namespace lotto::shell;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;

static std::string error_of(std::string_view text)
{
	auto r = parse_command(text);
	REQUIRE_FALSE(r.ok());
	return r.error().msg;
}

TEST_CASE("every command in the table parses with its synopsis arguments", "[parser]")
{
	const char *ok[] = {
		"tasks",
		"tasks --sort tickets --comm 'stress*' --user root --pid 12 --top 5",
		"tasks --sort=wait --json",
		"show 1234",
		"tickets 1234 500",
		"tickets 'stress*' 1000000",
		"unpin 1234",
		"unpin all",
		"boost 1234 x2",
		"boost 1234 x0.5 for 30s",
		"boost 1234 3 for 500ms",
		"policy list",
		"policy load policies/nice_weighted.lua",
		"policy unload nice_weighted",
		"policy reload nice_weighted",
		"policy errors --json",
		"stats",
		"shares --top 3",
		"draw",
		"draw 1000 --seed 42",
		"watch tasks",
		"watch tasks --top 5 1",
		"export csv /tmp/x.csv --interval 0.5 --count 3",
		"lua #tasks",
		"help",
		"help tasks",
		"quit",
		"exit",
	};
	for (auto line : ok) {
		INFO(line);
		auto r = parse_command(line);
		CHECK(r.ok());
	}
}

TEST_CASE("parsed commands carry their arguments, flags and subcommand", "[parser]")
{
	auto t = parse_command("tasks --sort tickets --top 3 --json");
	REQUIRE(t.ok());
	CHECK(std::string(t->spec->name) == "tasks");
	CHECK(t->flag("--sort") == "tickets");
	CHECK(t->flag("--top") == "3");
	CHECK(t->json);

	auto b = parse_command("boost 77 x4 for 2m");
	REQUIRE(b.ok());
	REQUIRE(b->args.size() == 2);
	CHECK(b->args[1] == "x4");
	REQUIRE(b->duration);
	CHECK(b->duration->count() == 120000);

	auto p = parse_command("policy load 'my policies/x.lua'");
	REQUIRE(p.ok());
	REQUIRE(p->sub);
	CHECK(std::string(p->sub->name) == "load");
	CHECK(p->args == std::vector<std::string>{"my policies/x.lua"});

	auto l = parse_command("lua ctx.state.x; ");
	REQUIRE(l.ok());
	CHECK(l->raw_rest == "ctx.state.x");
}

TEST_CASE("watch takes a trailing period only when the watched command cannot use it", "[parser][watch]")
{
	auto a = parse_command("watch show 123");
	REQUIRE(a.ok());
	CHECK(a->inner->args == std::vector<std::string>{"123"});
	CHECK(a->seconds == 2.0);

	auto b = parse_command("watch show 123 0.5");
	REQUIRE(b.ok());
	CHECK(b->seconds == 0.5);

	auto c = parse_command("watch draw 1000");
	REQUIRE(c.ok());
	CHECK(c->inner->args == std::vector<std::string>{"1000"});

	auto d = parse_command("watch tasks --top 5 3");
	REQUIRE(d.ok());
	CHECK(d->inner->flag("--top") == "5");
	CHECK(d->seconds == 3.0);
}

TEST_CASE("unknown commands are refused with a did-you-mean suggestion", "[parser][errors]")
{
	CHECK(error_of("taks") == "unknown command 'taks': did you mean 'tasks'? (type help for the list)");
	CHECK_THAT(error_of("stat"), ContainsSubstring("did you mean 'stats'?"));
	CHECK_THAT(error_of("polcy list"), ContainsSubstring("did you mean 'policy'?"));
	CHECK(error_of("frobnicate") == "unknown command 'frobnicate' (type help for the list)");
}

TEST_CASE("argument errors say what was wrong and what to type", "[parser][errors]")
{
	CHECK(error_of("tickets 12 0") == "tickets out of range: 0 (use 1..1000000)");
	CHECK(error_of("tickets 12 1000001") == "tickets out of range: 1000001 (use 1..1000000)");
	CHECK(error_of("tickets 12 -5") == "tickets out of range: -5 (use 1..1000000)");
	CHECK(error_of("tickets 12 lots") == "not a ticket count: 'lots' (use an integer 1..1000000)");
	CHECK(error_of("tickets 12") == "missing N (usage: tickets PID|PATTERN N)");
	CHECK(error_of("show") == "missing PID (usage: show PID)");
	CHECK(error_of("show abc") == "not a pid: 'abc' (a pid is a positive integer; see `tasks`)");
	CHECK(error_of("show 0") == "no such pid: 0 (pids start at 1; see `tasks`)");
	CHECK(error_of("show 99999999999") == "no such pid: 99999999999 is larger than any pid");
	CHECK(error_of("show 1 2") == "too many arguments for show: '2' (usage: show PID)");
	CHECK(error_of("unpin everything") == "not a pid: 'everything' (give a pid from `tasks`, or all)");
	CHECK(error_of("boost 1 y2") == "not a boost factor: 'y2' (write it like x2 or x0.5)");
	CHECK(error_of("boost 1 x0") == "boost factor out of range: x0 (use x0.01..x1000)");
	CHECK(error_of("boost 1 x2 for") == "boost ... for needs a duration, e.g.: boost 1234 x2 for 30s");
	CHECK(error_of("boost 1 x2 for soon") == "not a duration: 'soon' (write it like 500ms, 30s, 5m or 1h)");
	CHECK(error_of("tasks --sort size") == "unknown sort key 'size' (use cpu, tickets, wait or pid)");
	CHECK(error_of("tasks --srot cpu") ==
	      "unknown option '--srot' for tasks: did you mean '--sort'? (options: --sort, --comm, --user, --pid, --top, --json)");
	CHECK(error_of("tasks --top") == "option --top needs a value (usage: tasks [--sort cpu|tickets|wait|pid] "
					 "[--comm PATTERN] [--user U] [--pid P] [--top N])");
	CHECK(error_of("tasks --top 0") == "top out of range: 0 (use 1..1000000000)");
	CHECK(error_of("tasks --json=1") == "option --json takes no value");
	CHECK(error_of("policy") == "policy needs a subcommand: list, load FILE, unload NAME, reload NAME, errors");
	CHECK(error_of("policy lsit") ==
	      "unknown subcommand 'policy lsit': did you mean 'list'? (use list, load FILE, unload NAME, reload NAME, errors)");
	CHECK(error_of("draw 0") == "N out of range: 0 (use 1..1000000000)");
	CHECK(error_of("draw --seed -1") == "not a seed: '-1' (use an unsigned integer)");
	CHECK(error_of("watch") == "watch needs a command to repeat, e.g.: watch tasks --top 10 1");
	CHECK_THAT(error_of("watch tickets 1 5"), StartsWith("watch repeats read commands only"));
	CHECK(error_of("watch stats 0") == "watch period out of range: 0 seconds (use 0.1..3600)");
	CHECK(error_of("export csv") == "missing FILE (usage: export csv FILE [--interval S] [--count N] [--groups])");
	CHECK(error_of("export csv f --interval 0") == "interval out of range: 0 seconds (use 0.1..3600)");
	CHECK(error_of("lua") == "lua needs an expression, e.g.: lua #tasks");
	CHECK(error_of("help nope") == "no help for 'nope': not a command (type help for the list)");
	CHECK(error_of("show 'unterminated") == "unterminated single quote: close it or escape it with a backslash");
}

TEST_CASE("statements split on semicolons outside quotes", "[parser][split]")
{
	auto s = split_line("tasks; tickets 'a;b' 5 ;; stats");
	REQUIRE(s.error.empty());
	REQUIRE(s.statements.size() == 3);
	CHECK(s.statements[1].words[1].text == "a;b");
	CHECK(s.statements[2].raw == "stats");
	CHECK(quote_word("a b") == "'a b'");
	CHECK(quote_word("it's") == "'it'\\''s'");
	auto back = split_line(quote_word("it's"));
	CHECK(back.statements[0].words[0].text == "it's");
}

TEST_CASE("help is generated from the command table", "[parser][help]")
{
	std::string all = help_overview();
	for (auto &c : commands())
		CHECK_THAT(all, ContainsSubstring(c.name));
	std::string t = help_for(*find_command("tasks"));
	CHECK_THAT(t, StartsWith("usage: tasks [--sort"));
	CHECK_THAT(t, ContainsSubstring("--top N"));
	CHECK_THAT(help_for(*find_command("policy")), ContainsSubstring("load FILE"));
	CHECK_THAT(help_for(*find_command("tickets")), ContainsSubstring("needs root or the host's admin group"));
}

TEST_CASE("every command of the table has a handler, and watch repeats exactly the views", "[parser][table]")
{
	for (auto &c : commands()) {
		INFO(c.name);
		bool own = c.handler.view || c.handler.run;
		for (auto &s : c.subs) {
			INFO(s.name);
			CHECK((own || s.handler.view || s.handler.run));
			std::string line = std::string("watch ") + c.name + " " + s.name + (s.args.empty() ? "" : " x");
			CHECK(parse_command(line).ok() == (s.handler.view != nullptr || (!s.handler.run && c.handler.view)));
		}
		if (c.subs.empty())
			CHECK(own);
	}
	CHECK(watchable_names() == "tasks, show, policy list, policy errors, stats, groups, shares, draw");
}

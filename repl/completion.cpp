#include "completion.h"

#include "line_split.h"

#include <algorithm>
#include <set>

namespace lotto::shell {

namespace {

void add_matching(std::vector<std::string> &out, const std::vector<std::string> &from, std::string_view prefix)
{
	for (auto &s : from)
		if (s.compare(0, prefix.size(), prefix) == 0)
			out.push_back(s);
}

std::vector<std::string> command_names()
{
	std::vector<std::string> v;
	for (auto &c : commands()) {
		v.emplace_back(c.name);
		for (auto a : c.aliases)
			v.emplace_back(a);
	}
	return v;
}

void values_of(ArgKind kind, std::string_view prefix, CompletionSource &src, Completion &out)
{
	switch (kind) {
	case ArgKind::pid:
		add_matching(out.candidates, src.pids(), prefix);
		break;
	case ArgKind::pid_or_all:
		add_matching(out.candidates, {"all"}, prefix);
		add_matching(out.candidates, src.pids(), prefix);
		break;
	case ArgKind::pid_or_comm:
		add_matching(out.candidates, src.pids(), prefix);
		add_matching(out.candidates, src.comms(), prefix);
		break;
	case ArgKind::comm:
		add_matching(out.candidates, src.comms(), prefix);
		break;
	case ArgKind::sort_key:
		add_matching(out.candidates, {"cpu", "tickets", "wait", "pid"}, prefix);
		break;
	case ArgKind::policy_name:
		add_matching(out.candidates, src.policy_names(), prefix);
		break;
	case ArgKind::group:
		add_matching(out.candidates, src.group_names(), prefix);
		break;
	case ArgKind::funding:
		add_matching(out.candidates, {"off"}, prefix);
		break;
	case ArgKind::file:
	case ArgKind::policy_file:
		out.candidates = src.files(prefix, kind == ArgKind::policy_file);
		out.is_path = true;
		break;
	case ArgKind::help_topic:
		add_matching(out.candidates, command_names(), prefix);
		break;
	default:
		break;
	}
}

Completion complete_words(const std::vector<Word> &done, std::string_view prefix, CompletionSource &src)
{
	Completion out;
	if (done.empty()) {
		add_matching(out.candidates, command_names(), prefix);
		return out;
	}
	const CommandSpec *cmd = find_command(done[0].text);
	if (!cmd)
		return out;
	std::string_view name = cmd->name;
	if (name == "lua" || name == "quit")
		return out;
	if (name == "watch") {
		std::vector<Word> rest(done.begin() + 1, done.end());
		out = complete_words(rest, prefix, src);
		if (!rest.empty()) {	// only read commands may be watched
			return out;
		}
		std::vector<std::string> keep;
		for (auto &c : out.candidates)
			if (auto *s = find_command(c); s && watchable(*s))
				keep.push_back(c);
		out.candidates = keep;
		return out;
	}

	// walk what is typed so far
	const FlagSpec *pending = nullptr;
	std::set<std::string> used;
	size_t positional = 0;
	const SubSpec *sub = nullptr;
	bool after_for = false;
	for (size_t i = 1; i < done.size(); i++) {
		const std::string &w = done[i].text;
		if (pending) {
			pending = nullptr;
			continue;
		}
		if (after_for) {
			after_for = false;
			continue;
		}
		if (w.size() > 2 && w[0] == '-' && w[1] == '-') {
			const FlagSpec *f = find_flag(*cmd, w.substr(0, w.find('=')));
			if (f) {
				used.insert(f->name);
				if (f->value != ArgKind::none && w.find('=') == std::string::npos)
					pending = f;
			}
			continue;
		}
		if (name == "boost" && w == "for") {
			after_for = true;
			continue;
		}
		if (positional == 0 && !cmd->subs.empty())
			sub = find_sub(*cmd, w);
		positional++;
	}
	if (pending) {
		values_of(pending->value, prefix, src, out);
		return out;
	}
	if (after_for)
		return out;	// a duration: nothing to offer

	if (!prefix.empty() && prefix[0] == '-') {
		std::vector<std::string> flags;
		for (auto &f : cmd->flags)
			if (!used.count(f.name))
				flags.emplace_back(f.name);
		if (!used.count(kJsonFlag.name))
			flags.emplace_back(kJsonFlag.name);
		add_matching(out.candidates, flags, prefix);
	} else if (!cmd->subs.empty()) {
		if (positional == 0) {
			std::vector<std::string> subs;
			for (auto &s : cmd->subs)
				subs.emplace_back(s.name);
			add_matching(out.candidates, subs, prefix);
		} else if (sub && positional - 1 < sub->args.size()) {
			values_of(sub->args[positional - 1].kind, prefix, src, out);
		}
	} else if (positional < cmd->args.size()) {
		values_of(cmd->args[positional].kind, prefix, src, out);
	} else if (name == "boost" && positional == 2) {
		add_matching(out.candidates, {"for"}, prefix);
	}
	return out;
}

} // namespace

Completion complete(std::string_view line, size_t cursor, CompletionSource &src)
{
	CursorContext ctx = context_at(line, cursor);
	std::string prefix;
	std::vector<Word> done = ctx.words;
	if (!ctx.new_word && !done.empty()) {
		prefix = done.back().text;
		done.pop_back();
	}
	Completion c = complete_words(done, prefix, src);
	std::sort(c.candidates.begin(), c.candidates.end());
	c.candidates.erase(std::unique(c.candidates.begin(), c.candidates.end()), c.candidates.end());
	return c;
}

} // namespace lotto::shell

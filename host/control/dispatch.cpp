#include "control/dispatch.h"

#include "core/strict_json.h"

#include <fmt/format.h>
#include <memory>
#include <optional>

namespace lotto::control {

namespace {

HostError herr(ErrorCode c, std::string m) { return HostError{c, std::move(m)}; }

} // namespace

std::string Dispatcher::handle(std::string_view line, const Peer &peer)
{
	std::optional<std::string> out;
	handle(line, peer, [&](std::string r) { out = std::move(r); });
	if (!out)
		return reply_error(nullptr, herr(ErrorCode::internal, "internal error: the reply was not ready"));
	return std::move(*out);
}

HostResult<const Command *> Dispatcher::check(const json &req, const Peer &peer) const
{
	if (auto it = req.find("v"); it != req.end() && !speaks_our_version(*it))
		return unsupported_version(*it);
	auto c = req.find("cmd");
	if (c == req.end() || !c->is_string())
		return herr(ErrorCode::bad_request, "missing string field 'cmd'");
	const std::string &name = c->get_ref<const std::string &>();
	const Command *cmd = find_command(name);
	if (!cmd)
		return herr(ErrorCode::unknown_command, fmt::format("unknown command '{}'", shown(name)));
	// a field the command does not take is refused, so that a typo
	// ("ticket" for "tickets") is an error, not a silent default
	for (auto &[k, v] : req.items()) {
		bool known = k == "cmd" || k == "id" || k == "v";
		for (auto f : cmd->fields)
			known = known || k == f;
		if (!known)
			return herr(ErrorCode::bad_request, fmt::format("unknown field '{}' for '{}'", shown(k), cmd->name));
	}
	if (cmd->access == Access::write && !peer.admin) {
		std::string who = cfg_.admin_group.empty() ? "root" : "root or members of group '" + cfg_.admin_group + "'";
		return herr(ErrorCode::permission_denied,
			    fmt::format("permission denied: {} is for {} (you are uid {}); read-only commands still work",
					cmd->what, who, peer.uid));
	}
	return cmd;
}

void Dispatcher::handle(std::string_view line, const Peer &peer, Send send)
{
	requests_++;
	json id = nullptr;
	// exactly one reply, counted when it is an error
	auto answered = std::make_shared<bool>(false);
	auto reply = [this, answered, send = std::move(send)](const json &id, Answer a) {
		if (std::exchange(*answered, true))
			return;
		if (!a)
			errors_++;
		send(a ? reply_ok(id, *a) : reply_error(id, a.error()));
	};
	try {
		auto parsed = parse_json_strict(line);
		if (!parsed)
			return reply(id, herr(ErrorCode::bad_json, parsed.error().msg == "not valid JSON"
									   ? "request is not valid JSON (one object per line)"
									   : "request has a " + parsed.error().msg + " (give each key once)"));
		json &req = *parsed;
		if (!req.is_object())
			return reply(id, herr(ErrorCode::bad_json, fmt::format("request must be a JSON object, not {}", req.type_name())));
		if (auto it = req.find("id"); it != req.end()) {
			if (!it->is_number_integer() && !it->is_number_unsigned() &&
			    !(it->is_string() && it->get_ref<const std::string &>().size() <= 256))
				return reply(id, herr(ErrorCode::bad_request,
						      "field 'id' must be an integer or a string of at most 256 bytes"));
			id = *it;
		}
		auto cmd = check(req, peer);
		if (!cmd)
			return reply(id, cmd.error());
		Request r(req);
		(*cmd)->run(Call{r, peer, host_, cfg_}, [reply, id](Answer a) { reply(id, std::move(a)); });
	} catch (const std::exception &e) {
		reply(id, herr(ErrorCode::internal, fmt::format("internal error: {}", e.what())));
	} catch (...) {
		reply(id, herr(ErrorCode::internal, "internal error"));
	}
}

} // namespace lotto::control

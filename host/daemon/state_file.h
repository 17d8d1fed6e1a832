// state_file.h — what must survive a restart of lotto-host (even kill -9):
// the policies loaded from the REPL (with the rights they are read with)
// and the tickets pinned from it. Written atomically (temp file, fsync,
// rename, fsync of the directory) on every change, before the change is
// acknowledged, so a crash loses nothing that was confirmed.
//
// Format (version 3 when there are group pins, else 2, which older hosts
// read; version 1, whose policies are plain paths read as root, is still
// read):
//   {"version": 3,
//    "policies": [{"file": "/abs/path.lua", "uid": 1000, "gid": 1000}, ...],
//    "pins": {"1234": 500, ...},
//    "group_pins": {"uid:1000": 300, ...}}	(policy groups' funding, by name)
// Reading is strict: a field of the wrong type or out of range, an unknown
// or duplicate key, is an error that names it (the file is left alone),
// never a value quietly dropped or rounded.
#pragma once

#include "core/result.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lotto {

struct SavedPolicy {
	std::string file;	// absolute path
	uint32_t uid = 0;	// read with this user's rights
	uint32_t gid = 0;
	bool operator==(const SavedPolicy &) const = default;
};

struct SavedState {
	std::vector<SavedPolicy> policies;	// load order
	std::map<uint32_t, uint32_t> pins;	// pid -> tickets
	std::map<std::string, uint32_t> group_pins;	// policy group name -> funding
	bool operator==(const SavedState &) const = default;
};

class StateFile {
public:
	explicit StateFile(std::string path) : path_(std::move(path)) {}
	const std::string &path() const { return path_; }
	bool enabled() const { return !path_.empty(); }

	// A missing file is an empty state; a bad one is an error (and is
	// left in place for the operator to look at).
	Result<SavedState> load() const;
	Result<void> save(const SavedState &s) const;

	// The text <-> state conversions (tests/fuzz use them directly);
	// `name` starts every error message.
	static Result<SavedState> parse(std::string_view text, const std::string &name);
	static std::string serialize(const SavedState &s);

private:
	std::string path_;
};

} // namespace lotto

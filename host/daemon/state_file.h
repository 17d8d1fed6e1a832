// state_file.h — what must survive a restart of lotto-host (even kill -9):
// the policies loaded and the tickets pinned from the REPL. Written
// atomically (temp file, fsync, rename) on every change, before the change is
// acknowledged, so a crash loses nothing that was confirmed.
#pragma once

#include "core/result.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lotto {

struct SavedState {
	std::vector<std::string> policies;	// absolute paths, load order
	std::map<uint32_t, uint32_t> pins;	// pid -> tickets
};

class StateFile {
public:
	explicit StateFile(std::string path) : path_(std::move(path)) {}
	const std::string &path() const { return path_; }
	bool enabled() const { return !path_.empty(); }

	// A missing file is an empty state; a corrupt one is an error (and is
	// left in place for the operator to look at).
	Result<SavedState> load() const;
	Result<void> save(const SavedState &s) const;

private:
	std::string path_;
};

} // namespace lotto

// watcher.h — inotify on the directories that hold policy files.
//
// Directories, not files, are watched: an editor's write-and-rename replaces
// the inode (a watch on the file would die with it), and a new file in a
// --policy-dir only shows up as a directory event. Events on one path are
// settled for `debounce` (an editor may truncate, write, then close; vim
// renames the old file away first) and then reported once, as what the
// path is at that moment: there (changed; whatever it is, a FIFO included)
// or gone (deleted).
#pragma once

#include "core/event_loop.h"
#include "core/fd.h"
#include "core/result.h"

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>

namespace lotto::policy {

class Watcher {
public:
	// path: absolute path of the file; exists: whether it is there now
	using Callback = std::function<void(const std::string &path, bool exists)>;

	Watcher(EventLoop &loop, std::chrono::milliseconds debounce, Callback cb);
	~Watcher();
	Watcher(const Watcher &) = delete;
	Watcher &operator=(const Watcher &) = delete;

	// report changes of this file (absolute path)
	Result<void> watch_file(const std::string &path);
	void unwatch_file(const std::string &path);
	// report every *.lua file (not hidden) created in or moved into dir
	Result<void> watch_dir(const std::string &dir);

private:
	struct Dir {
		int wd = -1;
		bool all_lua = false;
		std::set<std::string> files;	// names inside the directory
	};
	Result<Dir *> dir_for(const std::string &dir);
	void on_readable();
	void on_timer();
	void arm();

	EventLoop &loop_;
	std::chrono::milliseconds debounce_;
	Callback cb_;
	Fd ifd_;
	EventLoop::Id ifd_id_ = 0, timer_id_ = 0;	// the debounce: a one-shot timer of the loop
	std::map<std::string, Dir> dirs_;	// by directory path
	std::map<std::string, std::chrono::steady_clock::time_point> pending_;	// path -> report at
};

} // namespace lotto::policy

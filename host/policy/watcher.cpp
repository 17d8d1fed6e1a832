#include "policy/watcher.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>

namespace lotto::policy {

namespace {

constexpr uint32_t kDirEvents = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
				IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

std::string dir_of(const std::string &path)
{
	auto s = path.rfind('/');
	return s == std::string::npos ? "." : s == 0 ? "/" : path.substr(0, s);
}

std::string base_of(const std::string &path)
{
	auto s = path.rfind('/');
	return s == std::string::npos ? path : path.substr(s + 1);
}

std::string join(const std::string &dir, const std::string &name)
{
	return dir == "/" ? "/" + name : dir + "/" + name;
}

bool is_policy_name(const std::string &name)
{
	return name.size() > 4 && name[0] != '.' && name.compare(name.size() - 4, 4, ".lua") == 0;
}

// something is at the path (a FIFO or a device too: the engine's reader
// says what is wrong with it); ENOENT, a dangling symlink included, is gone
bool exists(const std::string &path)
{
	struct stat st;
	return stat(path.c_str(), &st) == 0 || errno != ENOENT;
}

} // namespace

Watcher::Watcher(EventLoop &loop, std::chrono::milliseconds debounce, Callback cb)
	: loop_(loop), debounce_(debounce), cb_(std::move(cb)),
	  ifd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC))
{
	if (!ifd_) {
		spdlog::error("policy watcher: inotify: {}", strerror(errno));
		return;
	}
	if (auto id = loop_.add_fd(ifd_.get(), EPOLLIN, [this](uint32_t) { on_readable(); }))
		ifd_id_ = *id;
	if (auto id = loop_.add_oneshot([this](uint64_t) { on_timer(); }))
		timer_id_ = *id;
	else
		spdlog::error("policy watcher: {}", id.error().msg);
}

Watcher::~Watcher()
{
	if (ifd_id_)
		loop_.remove(ifd_id_);
	if (timer_id_)
		loop_.remove(timer_id_);
}

Result<Watcher::Dir *> Watcher::dir_for(const std::string &dir)
{
	auto it = dirs_.find(dir);
	if (it != dirs_.end())
		return &it->second;
	if (!ifd_)
		return err("policy watcher: no inotify");
	int wd = inotify_add_watch(ifd_.get(), dir.c_str(), kDirEvents);
	if (wd < 0)
		return err("cannot watch " + dir + ": " + strerror(errno));
	Dir &d = dirs_[dir];
	d.wd = wd;
	return &d;
}

Result<void> Watcher::watch_file(const std::string &path)
{
	auto d = dir_for(dir_of(path));
	if (!d)
		return d.error();
	(*d)->files.insert(base_of(path));
	return {};
}

void Watcher::unwatch_file(const std::string &path)
{
	auto it = dirs_.find(dir_of(path));
	if (it == dirs_.end())
		return;
	it->second.files.erase(base_of(path));
	pending_.erase(path);
	if (it->second.files.empty() && !it->second.all_lua) {
		inotify_rm_watch(ifd_.get(), it->second.wd);
		dirs_.erase(it);
	}
}

Result<void> Watcher::watch_dir(const std::string &dir)
{
	auto d = dir_for(dir);
	if (!d)
		return d.error();
	(*d)->all_lua = true;
	return {};
}

void Watcher::on_readable()
{
	alignas(inotify_event) char buf[16 * (sizeof(inotify_event) + NAME_MAX + 1)];
	auto now = std::chrono::steady_clock::now();
	bool any = false;
	for (;;) {
		ssize_t n = read(ifd_.get(), buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			auto *ev = reinterpret_cast<inotify_event *>(p);
			p += sizeof(inotify_event) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				// lost events: look at every watched file again
				for (auto &[dir, d] : dirs_)
					for (auto &f : d.files)
						pending_[join(dir, f)] = now + debounce_;
				any = true;
				continue;
			}
			if (!ev->len)
				continue;	// about the directory itself
			for (auto &[dir, d] : dirs_) {
				if (d.wd != ev->wd)
					continue;
				std::string name(ev->name);
				if (d.files.count(name) || (d.all_lua && is_policy_name(name))) {
					pending_[join(dir, name)] = now + debounce_;
					any = true;
				}
				break;
			}
		}
	}
	if (any)
		arm();
}

void Watcher::arm()
{
	if (pending_.empty() || !timer_id_)
		return;
	auto first = pending_.begin()->second;
	for (auto &[p, t] : pending_)
		first = std::min(first, t);
	loop_.arm_at(timer_id_, first);
}

void Watcher::on_timer()
{
	auto now = std::chrono::steady_clock::now();
	std::vector<std::string> due;
	for (auto it = pending_.begin(); it != pending_.end();) {
		if (it->second <= now) {
			due.push_back(it->first);
			it = pending_.erase(it);
		} else {
			++it;
		}
	}
	arm();
	for (auto &path : due)
		cb_(path, exists(path));
}

} // namespace lotto::policy

#include "core/credentials.h"

#include <cerrno>
#include <cstring>
#include <grp.h>
#include <pwd.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace lotto {

Credentials Credentials::of_process()
{
	Credentials c;
	c.uid = geteuid();
	c.gid = getegid();
	int n = getgroups(0, nullptr);
	if (n > 0) {
		c.groups.resize(size_t(n));
		n = getgroups(n, c.groups.data());
		c.groups.resize(n > 0 ? size_t(n) : 0);
	}
	return c;
}

Credentials Credentials::of_user(uid_t uid, gid_t gid)
{
	Credentials c;
	c.uid = uid;
	c.gid = gid;
	std::vector<char> buf(16384);
	passwd pw{}, *res = nullptr;
	if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) != 0 || !res)
		return c;
	int n = 64;
	c.groups.resize(size_t(n));
	if (getgrouplist(res->pw_name, gid, c.groups.data(), &n) < 0) {
		c.groups.resize(size_t(n));
		if (getgrouplist(res->pw_name, gid, c.groups.data(), &n) < 0)
			n = 0;
	}
	c.groups.resize(size_t(n));
	return c;
}

ActAs::ActAs(const Credentials &who)
{
	if (geteuid() != 0) {
		if (who.uid != 0 && who.uid != geteuid())
			error_ = err(Errc::permission,
				     "lotto-host runs as uid " + std::to_string(geteuid()) +
					     " and cannot open files on behalf of uid " + std::to_string(who.uid));
		return;
	}
	if (who.uid == 0)
		return;	// root reads as root
	fsuid_ = uid_t(setfsuid(uid_t(-1)));
	fsgid_ = gid_t(setfsgid(gid_t(-1)));
	int n = getgroups(0, nullptr);
	groups_.resize(n > 0 ? size_t(n) : 0);
	if (n > 0 && getgroups(n, groups_.data()) != n)
		groups_.clear();
	if (syscall(SYS_setgroups, who.groups.size(), who.groups.data()) != 0) {
		error_ = err(Errc::permission, std::string("setgroups: ") + strerror(errno));
		return;
	}
	switched_ = true;
	setfsgid(who.gid);
	setfsuid(who.uid);
	if (uid_t(setfsuid(uid_t(-1))) != who.uid || gid_t(setfsgid(gid_t(-1))) != who.gid)
		error_ = err(Errc::permission, "cannot take the identity of uid " + std::to_string(who.uid));
}

ActAs::~ActAs()
{
	if (!switched_)
		return;
	setfsuid(fsuid_);
	setfsgid(fsgid_);
	syscall(SYS_setgroups, groups_.size(), groups_.data());
}

} // namespace lotto

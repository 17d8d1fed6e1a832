-- prelude.lua — the trusted half of every policy worker.
--
-- worker.cpp runs this chunk once, with the real globals, before any policy
-- code exists in the process. It captures everything it needs in locals
-- (policy code can reach none of them), builds `tasks` as LuaJIT FFI views
-- over the shared slot table, builds the per-policy sandbox, and returns the
-- handful of functions worker.cpp calls. Every call into these functions goes
-- through worker.cpp's one pcall wrapper, so errors raised here (with the
-- right level) reach the operator as `file:line: message` of the policy line
-- that caused them.
--
-- Hot path: a tick over 100,000 tasks must not build a Lua table per task.
-- tasks[i] is a 8-byte cdata {slot, tick} whose fields are read straight from
-- the shared memory by the metamethods below; LuaJIT's allocation sinking
-- removes the cdata entirely when the policy does not keep it.

local A = ...	-- arguments from worker.cpp (pointers as lightuserdata)

local ffi = require("ffi")
local C = ffi.C
local type, error, tostring, tonumber = type, error, tostring, tonumber
local pairs, ipairs, next, select = pairs, ipairs, next, select
local setmetatable, getmetatable, rawget, rawset = setmetatable, getmetatable, rawget, rawset
local setfenv, loadstring, pcall = setfenv, loadstring, pcall
local sfmt, srep, ssub, sbyte, sfind = string.format, string.rep, string.sub, string.byte, string.find
local tconcat, tsort = table.concat, table.sort
local floor, huge = math.floor, math.huge
local host_log = A.log		-- C: host_log(level, text)

ffi.cdef(A.cdef)		-- struct lotto_task_stat, generated from bpf/lotto_abi.h
ffi.cdef[[
typedef struct { uint32_t slot; uint32_t tick; } lotto_task_ref;
typedef struct { uint32_t unused; } lotto_task_list;
size_t strnlen(const char *s, size_t maxlen);
]]

-- the C++ side checks the layout it was compiled with against the cdef
for field, off in pairs(A.offsets) do
	local got = ffi.offsetof("struct lotto_task_stat", field)
	if got ~= off then
		error(sfmt("prelude: struct lotto_task_stat.%s at offset %s, the host has %d: rebuild",
			field, tostring(got), off), 0)
	end
end
if ffi.sizeof("struct lotto_task_stat") ~= A.stat_size then
	error("prelude: struct lotto_task_stat size differs from the host's: rebuild", 0)
end

local ST = ffi.cast("const struct lotto_task_stat *", A.stats)
local USED = ffi.cast("const uint32_t *", A.used)	-- slots in use, this tick
local IN = ffi.cast("const uint32_t *", A.input)	-- tickets before this policy
local OUT = ffi.cast("uint32_t *", A.output)		-- this policy's opinion, 0 = none
local DELTA = ffi.cast("const double *", A.delta)	-- runtime since the last tick
local COMM_LEN = A.comm_len
local TICKETS_MIN, TICKETS_MAX = A.tickets_min, A.tickets_max
local FUNDING_MIN, FUNDING_MAX = A.funding_min, A.funding_max
local GROUP_NAME_MAX, GROUPS_MAX, NO_GROUP = A.group_name_max, A.groups_max, A.no_group
local F_TRANSFERS, F_TRANSFERS_IN = A.f_transfers, A.f_transfers_in
ffi.cdef(sfmt("typedef struct { uint32_t funding, flags, len; char name[%d]; } lotto_group_out;", GROUP_NAME_MAX))
local GOUT = ffi.cast("lotto_group_out *", A.groups)	-- this tick's groups (policy_shm.h)
local NGROUPS = ffi.cast("uint32_t *", A.ngroups)
local GMEMBER = ffi.cast("uint16_t *", A.group_out)	-- per slot: 1 + group index, NO_GROUP, 0 none
local band, bor, bnot = bit.band, bit.bor, bit.bnot

local N = 0		-- #tasks this tick
local TICK = 0		-- bumped per tick/eval: proxies from an older one are stale
local WRITABLE = false	-- tickets writable (ticks only, not `lua` evaluations)
local POLICY = A.default_name
local INTERVAL = 1000
local UNSAFE = A.unsafe

-- ---------------------------------------------------------------- tasks

local function show_value(v)
	local t = type(v)
	if t == "number" or t == "boolean" or t == "nil" then
		return tostring(v)
	elseif t == "string" then
		if #v > 40 then v = ssub(v, 1, 40) .. "..." end
		return sfmt("%q (a string)", v)
	end
	return "a " .. t .. " value"
end

local function comm_of(s)
	local c = ST[s].comm
	return ffi.string(c, C.strnlen(c, COMM_LEN))
end

local function bad_tickets(slot, v)
	error(sfmt("policy %s: invalid tickets %s for pid %d (%s): tickets must be an integer in %d..%d",
		POLICY, show_value(v), ST[slot].pid, comm_of(slot), TICKETS_MIN, TICKETS_MAX), 3)
end

local function stale()
	error("a task from an earlier tick was used: tasks[i] is only valid during the tick that returned it", 3)
end

local GET = {
	pid = function(s) return ST[s].pid end,
	tgid = function(s) return ST[s].tgid end,
	comm = comm_of,
	uid = function(s) return ST[s].uid end,
	nice = function(s) return ST[s].nice end,
	cgroup = function(s) return tonumber(ST[s].cgroup_id) end,
	runtime_ns = function(s) return tonumber(ST[s].runtime_ns) end,
	runtime_delta_ns = function(s) return DELTA[s] end,
	wins = function(s) return tonumber(ST[s].wins) end,
	wait_ns = function(s) return tonumber(ST[s].wait_ns) end,
	wait_max_ns = function(s) return tonumber(ST[s].wait_max_ns) end,
	waits = function(s) return tonumber(ST[s].waits) end,
	rescues = function(s) return tonumber(ST[s].rescues) end,
	last_cpu = function(s) return ST[s].last_cpu end,
	drawn_tickets = function(s) return ST[s].tickets end,
	group = function(s) return ST[s].group end,
	funded_by = function(s) return ST[s].funded_by end,
	funded_tickets = function(s) return ST[s].funded_tickets end,
	slot = function(s) return s end,
	tickets = function(s)
		local o = OUT[s]
		if o ~= 0 then return o end
		return IN[s]
	end,
}

-- ---------------------------------------------------------------- groups

-- ctx.group(name): this tick's policy group of that name (policy_shm.h); a
-- Lua table per group (a policy has a few hundred at most), its fields kept
-- in the shared memory the engine reads after the tick
local GROUP_OBJ = setmetatable({}, { __mode = "k" })	-- group object -> {idx, tick}
local GROUP_BY_NAME = {}				-- name -> object, this tick
local GROUP_TICK = -1

local GROUP_FIELDS = { name = true, funding = true, transfers = true, transfers_in = true }

local function group_ref(g, level)
	local r = GROUP_OBJ[g]
	if r == nil then return nil end
	if r.tick ~= TICK then
		error("a group from an earlier tick was used: ctx.group(name) again in each tick", level + 1)
	end
	return r
end

local GroupMeta = {
	__index = function(g, k)
		local r = group_ref(g, 2)
		local o = GOUT[r.idx]
		if k == "name" then return r.name end
		if k == "funding" then
			if o.funding == 0 then return nil end
			return o.funding
		end
		if k == "transfers" then return band(o.flags, F_TRANSFERS) ~= 0 end
		if k == "transfers_in" then return band(o.flags, F_TRANSFERS_IN) ~= 0 end
		error(sfmt("a group has no field %s (it has name, funding, transfers, transfers_in)", show_value(k)), 2)
	end,
	__newindex = function(g, k, v)
		local r = group_ref(g, 2)
		local o = GOUT[r.idx]
		if k == "funding" then
			if v ~= nil and (type(v) ~= "number" or not (v >= FUNDING_MIN and v <= FUNDING_MAX) or v % 1 ~= 0) then
				error(sfmt("policy %s: invalid funding %s for group %s: funding must be an integer in %d..%d (or nil: the default)",
					POLICY, show_value(v), r.name, FUNDING_MIN, FUNDING_MAX), 2)
			end
			o.funding = v or 0
		elseif k == "transfers" or k == "transfers_in" then
			if type(v) ~= "boolean" then
				error(sfmt("policy %s: group %s: %s must be true or false, got %s", POLICY, r.name, k, show_value(v)), 2)
			end
			local f = k == "transfers" and F_TRANSFERS or F_TRANSFERS_IN
			o.flags = v and bor(o.flags, f) or band(o.flags, bnot(f))
		elseif k == "name" then
			error("a group's name is read-only: make another with ctx.group(name)", 2)
		else
			error(sfmt("a group has no field %s (it has name, funding, transfers, transfers_in)", show_value(k)), 2)
		end
	end,
	__tostring = function(g)
		local r = GROUP_OBJ[g]
		if r.tick ~= TICK then return "group(stale)" end
		return sfmt("group(%s)", r.name)
	end,
	__metatable = false,
}

local function valid_group_name(name)
	return type(name) == "string" and #name >= 1 and #name <= GROUP_NAME_MAX and not sfind(name, "[^%w_%.:@%-]")
		and sfind(name, "[^%d]") ~= nil
end

local function make_group(name)
	if not WRITABLE then
		error("ctx.group can only be used in tick (not in init or `lua`)", 2)
	end
	if GROUP_TICK ~= TICK then
		GROUP_BY_NAME, GROUP_TICK = {}, TICK
	end
	local g = GROUP_BY_NAME[name]
	if g then return g end
	if not valid_group_name(name) then
		error(sfmt("ctx.group: a group name is 1..%d letters, digits and _.:@- (not only digits), got %s",
			GROUP_NAME_MAX, show_value(name)), 2)
	end
	local idx = NGROUPS[0]
	if idx >= GROUPS_MAX then
		error(sfmt("ctx.group: at most %d groups per tick", GROUPS_MAX), 2)
	end
	local o = GOUT[idx]
	o.funding, o.flags, o.len = 0, 0, #name
	ffi.copy(o.name, name, #name)
	NGROUPS[0] = idx + 1
	g = setmetatable({}, GroupMeta)
	GROUP_OBJ[g] = { idx = idx, tick = TICK, name = name }
	GROUP_BY_NAME[name] = g
	return g
end

local function set_group(slot, v)
	if v == false then
		GMEMBER[slot] = NO_GROUP
		return
	end
	local r = type(v) == "table" and group_ref(v, 3)
	if not r then
		error(sfmt("policy %s: invalid group %s for pid %d (%s): assign a group from ctx.group(name), or false",
			POLICY, show_value(v), ST[slot].pid, comm_of(slot)), 3)
	end
	GMEMBER[slot] = r.idx + 1
end

local Task
Task = ffi.metatype("lotto_task_ref", {
	__index = function(self, k)
		local g = GET[k]
		if g == nil then
			error(sfmt("tasks[i] has no field %s", show_value(k)), 2)
		end
		if self.tick ~= TICK then stale() end
		return g(self.slot)
	end,
	__newindex = function(self, k, v)
		if k == "group" then
			if self.tick ~= TICK then stale() end
			if not WRITABLE then
				error("groups cannot be set from `lua`", 2)
			end
			set_group(self.slot, v)
			return
		end
		if k ~= "tickets" then
			if GET[k] then
				error(sfmt("tasks[i].%s is read-only: only tickets and group can be set", k), 2)
			end
			error(sfmt("tasks[i] has no field %s", show_value(k)), 2)
		end
		if self.tick ~= TICK then stale() end
		if not WRITABLE then
			error("tickets cannot be set from `lua`: pin them with `tickets PID N`", 2)
		end
		if type(v) ~= "number" or not (v >= TICKETS_MIN and v <= TICKETS_MAX) or v % 1 ~= 0 then
			bad_tickets(self.slot, v)
		end
		OUT[self.slot] = v
	end,
	__tostring = function(self)
		if self.tick ~= TICK then return "task(stale)" end
		local s = self.slot
		return sfmt("task(pid=%d, comm=%s, nice=%d, tickets=%d)", ST[s].pid, comm_of(s), ST[s].nice,
			GET.tickets(s))
	end,
})

local TASKS = ffi.metatype("lotto_task_list", {
	__len = function() return N end,
	__index = function(_, i)
		if type(i) == "number" and i >= 1 and i <= N and i % 1 == 0 then
			return Task(USED[i - 1], TICK)
		end
		return nil
	end,
	__newindex = function()
		error("tasks is read-only: set tasks[i].tickets instead", 2)
	end,
	__tostring = function() return sfmt("tasks(%d)", N) end,
})(0)

-- ---------------------------------------------------------------- ctx

-- the kernel's sched_prio_to_weight[], nice -20 .. 19
local WEIGHTS = {
	88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
	9548, 7620, 6100, 4904, 3906, 3121, 2501, 1991, 1586, 1277,
	1024, 820, 655, 526, 423, 335, 272, 215, 172, 137,
	110, 87, 70, 56, 45, 36, 29, 23, 18, 15,
}

local function nice_to_weight(n)
	if type(n) ~= "number" or n ~= n then
		error("ctx.nice_to_weight: nice must be a number, got " .. show_value(n), 2)
	end
	n = floor(n)
	if n < -20 then n = -20 elseif n > 19 then n = 19 end
	return WEIGHTS[n + 21]
end

local LEVELS = { trace = 0, debug = 1, info = 2, warn = 3, warning = 3, error = 4 }

local function log(level, msg, ...)
	if select("#", ...) > 0 and type(msg) == "string" then
		msg = sfmt(msg, ...)
	elseif msg == nil and type(level) == "string" and LEVELS[level] == nil then
		level, msg = "info", level	-- ctx.log("text")
	end
	local l = LEVELS[level]
	if l == nil then
		error("ctx.log: level must be one of trace, debug, info, warn, error; got " .. show_value(level), 2)
	end
	host_log(l, tostring(msg))
end

local ctx = {
	name = POLICY,
	now = 0,
	time = 0,
	dt = 0,
	tick = 0,
	ncpus = A.ncpus,
	interval_ms = 1000,
	state = {},
	log = log,
	nice_to_weight = nice_to_weight,
	tickets_min = TICKETS_MIN,
	tickets_max = TICKETS_MAX,
	group = make_group,
	funding_min = FUNDING_MIN,
	funding_max = FUNDING_MAX,
}

-- ---------------------------------------------------------------- sandbox

local function forbidden(what)
	return sfmt("%s is not available to policies (sandbox); an operator can allow it with lotto-host --unsafe-policies", what)
end

-- a copy of a library table with only the names in `keep` (nil: all) minus
-- those in `deny`; every left-out name raises a clear error when used
local function lib_copy(name, src, keep, deny)
	local t, known = {}, {}
	for k, v in pairs(src) do
		known[k] = true
		if keep == nil or keep[k] then t[k] = v end
	end
	for _, k in ipairs(deny or {}) do t[k] = nil end
	return setmetatable(t, {
		__index = function(_, k)
			if known[k] then
				error(forbidden(name .. "." .. k), 2)
			end
			return nil
		end,
		__metatable = false,
	})
end

local FORBIDDEN_GLOBALS = {
	io = "io", load = "load", loadstring = "loadstring", loadfile = "loadfile", dofile = "dofile",
	require = "require", debug = "debug", ffi = "ffi", jit = "jit", package = "package",
	module = "module", getfenv = "getfenv", setfenv = "setfenv", newproxy = "newproxy",
	gcinfo = "gcinfo",
}

local real_collectgarbage = collectgarbage
local function safe_collectgarbage(opt, arg)
	opt = opt or "collect"
	if opt == "count" or opt == "collect" or opt == "step" then
		return real_collectgarbage(opt, arg)
	end
	error(forbidden("collectgarbage(\"" .. tostring(opt) .. "\")"), 2)
end

local function print_to_log(...)
	local n = select("#", ...)
	local parts = {}
	for i = 1, n do parts[i] = tostring((select(i, ...))) end
	host_log(LEVELS.info, tconcat(parts, "\t"))
end

local SAFE_STRING = lib_copy("string", string, nil, { "dump" })
local SAFE_TABLE = lib_copy("table", table)
local SAFE_MATH = lib_copy("math", math)
local SAFE_COROUTINE = lib_copy("coroutine", coroutine)
local SAFE_BIT = lib_copy("bit", bit)
local SAFE_OS = lib_copy("os", os, { time = true, clock = true, date = true, difftime = true })

local function make_env()
	local env
	if UNSAFE then
		env = setmetatable({}, { __index = _G })
	else
		env = {
			assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
			pcall = pcall, select = select, tonumber = tonumber, tostring = tostring,
			type = type, unpack = unpack, xpcall = xpcall, rawequal = rawequal,
			rawget = rawget, rawset = rawset, setmetatable = setmetatable,
			getmetatable = getmetatable, _VERSION = _VERSION,
			collectgarbage = safe_collectgarbage,
			string = SAFE_STRING, table = SAFE_TABLE, math = SAFE_MATH,
			coroutine = SAFE_COROUTINE, bit = SAFE_BIT, os = SAFE_OS,
		}
		setmetatable(env, {
			__index = function(_, k)
				local what = FORBIDDEN_GLOBALS[k]
				if what then error(forbidden(what), 2) end
				return nil
			end,
			__metatable = false,
		})
	end
	env.print = print_to_log
	env._G = env
	return env
end

if not UNSAFE then
	-- defence in depth: even if a path to the real globals were found, the
	-- dangerous functions are gone from this process
	string.dump = nil
	os.execute, os.exit, os.remove, os.rename, os.tmpname, os.getenv, os.setlocale =
		nil, nil, nil, nil, nil, nil, nil
	io = nil
	package.loaded.io = nil
	package.loaded.ffi = nil
	package.loaded.jit = nil
	package.loaded.debug = nil
	package.preload = {}
	package.loaders = {}
	debug = nil
	dofile, loadfile, require = nil, nil, nil
	-- the string metatable is shared by every string of the state: a policy
	-- reaches the real string library only through ("").method calls,
	-- never through getmetatable("") (which would let it rewrite them)
	getmetatable("").__metatable = false
end

-- ---------------------------------------------------------------- policy

local policy		-- the table the file returned
local penv		-- its environment

local KNOWN_FIELDS = {
	name = true, interval_ms = true, budget_ms = true, tick = true, init = true,
	description = true,
}

local function load_policy(chunk, path)
	penv = make_env()
	setfenv(chunk, penv)
	local p = chunk()
	if type(p) ~= "table" then
		error(sfmt("%s: a policy file must return a table (it returned %s)", path, show_value(p)), 0)
	end
	local name = p.name
	if name == nil then
		name = POLICY
	elseif type(name) ~= "string" or not name:match("^[%w_%.%-]+$") or #name > 64 then
		error(sfmt("%s: policy field name must be a string of letters, digits, _ . - (at most 64), got %s",
			path, show_value(name)), 0)
	end
	local interval = p.interval_ms
	if interval == nil then
		interval = 1000
	elseif type(interval) ~= "number" or interval % 1 ~= 0 or interval < A.interval_ms_min or interval > A.interval_ms_max then
		error(sfmt("%s: policy field interval_ms must be an integer number of milliseconds in %d..%d, got %s",
			path, A.interval_ms_min, A.interval_ms_max, show_value(interval)), 0)
	end
	local budget = p.budget_ms
	if budget ~= nil and (type(budget) ~= "number" or budget ~= budget or budget < A.budget_ms_min or budget > A.budget_ms_max) then
		error(sfmt("%s: policy field budget_ms must be a number of milliseconds in %d..%d, got %s",
			path, A.budget_ms_min, A.budget_ms_max, show_value(budget)), 0)
	end
	if type(p.tick) ~= "function" then
		error(sfmt("%s: policy field tick must be a function tick(tasks, ctx), got %s", path, show_value(p.tick)), 0)
	end
	if p.init ~= nil and type(p.init) ~= "function" then
		error(sfmt("%s: policy field init must be a function init(ctx), got %s", path, show_value(p.init)), 0)
	end
	if p.description ~= nil and type(p.description) ~= "string" then
		error(sfmt("%s: policy field description must be a string, got %s", path, show_value(p.description)), 0)
	end
	for k in pairs(p) do
		if not KNOWN_FIELDS[k] then
			host_log(LEVELS.warn, sfmt("%s: unknown policy field %s (ignored)", path, show_value(k)))
		end
	end
	policy = p
	POLICY, INTERVAL = name, interval
	ctx.name = name
	ctx.interval_ms = interval
	return name, interval, budget or 0, p.description or ""
end

local function run_init(now, wall)
	ctx.now, ctx.time, ctx.dt, ctx.tick = now, wall, 0, 0
	local init = policy.init
	if init then
		N = 0
		TICK = (TICK + 1) % 4294967296
		WRITABLE = false
		init(ctx)
	end
end

local function run_tick(n, now, wall, dt, tick_no, ncpus)
	N = n
	TICK = (TICK + 1) % 4294967296
	WRITABLE = true
	ctx.now, ctx.time, ctx.dt, ctx.tick, ctx.ncpus = now, wall, dt, tick_no, ncpus
	ctx.name, ctx.interval_ms = POLICY, INTERVAL
	policy.tick(TASKS, ctx)
	WRITABLE = false
end

-- ---------------------------------------------------------------- `lua EXPR`

local RO_REAL = setmetatable({}, { __mode = "k" })	-- read-only proxy -> table

local function readonly(t)
	if type(t) ~= "table" then return t end
	local p = setmetatable({}, {
		__index = function(_, k)
			local v = t[k]
			if type(v) == "table" then return readonly(v) end
			return v
		end,
		__newindex = function(_, k)
			error(sfmt("permission denied: `lua` without admin rights is read-only (tried to set %s)",
				show_value(k)), 2)
		end,
		__metatable = false,
	})
	RO_REAL[p] = t
	return p
end

local function repr(v, depth, seen, out)
	local t = type(v)
	if t == "string" then
		out[#out + 1] = sfmt("%q", v)
	elseif t ~= "table" then
		out[#out + 1] = tostring(v)
	else
		v = RO_REAL[v] or v
		if seen[v] then out[#out + 1] = "<cycle>" return end
		if depth > 4 then out[#out + 1] = "{...}" return end
		seen[v] = true
		local keys = {}
		for k in next, v do keys[#keys + 1] = k end
		tsort(keys, function(a, b)
			local ta, tb = type(a), type(b)
			if ta ~= tb then return ta < tb end
			if ta == "number" or ta == "string" then return a < b end
			return tostring(a) < tostring(b)
		end)
		out[#out + 1] = "{"
		for i, k in ipairs(keys) do
			if i > 50 then out[#out + 1] = " ..." break end
			if i > 1 then out[#out + 1] = ", " end
			if type(k) == "string" and k:match("^[%a_][%w_]*$") then
				out[#out + 1] = k
			else
				out[#out + 1] = "["
				repr(k, depth + 1, seen, out)
				out[#out + 1] = "]"
			end
			out[#out + 1] = " = "
			repr(v[k], depth + 1, seen, out)
		end
		out[#out + 1] = "}"
		seen[v] = nil
	end
end

local function eval(src, admin, n)
	N = n
	TICK = (TICK + 1) % 4294967296
	WRITABLE = false
	-- select(1, ...) rather than a plain `return EXPR`: a tail call would
	-- hide the expression's own line from error positions
	local fn, err = loadstring("return select(1, " .. src .. "\n)", "=lua")
	if not fn then
		fn, err = loadstring(src, "=lua")
		if not fn then error(err, 0) end
	end
	local view = setmetatable({}, {
		__index = function(_, k)
			if k == "tasks" then return TASKS end
			if k == "ctx" then return admin and ctx or readonly(ctx) end
			if k == "policy" then return admin and policy or readonly(policy) end
			local v = penv and penv[k]
			if admin then return v end
			return readonly(v)
		end,
		__newindex = function(_, k, v)
			if not admin then
				error(sfmt("permission denied: `lua` without admin rights is read-only (tried to set %s)",
					show_value(k)), 2)
			end
			penv[k] = v
		end,
	})
	setfenv(fn, view)
	local res = { n = 0 }
	local function collect(...)
		res.n = select("#", ...)
		for i = 1, res.n do res[i] = (select(i, ...)) end
	end
	collect(fn())
	local out = {}
	for i = 1, res.n do
		if i > 1 then out[#out + 1] = "\t" end
		repr(res[i], 0, {}, out)
	end
	local s = tconcat(out)
	if #s > 16000 then s = ssub(s, 1, 16000) .. " ..." end
	return s
end

return {
	load_policy = load_policy,
	run_init = run_init,
	run_tick = run_tick,
	eval = eval,
}

-- fair_share.lua — Waldspurger's currencies: every user is funded equally.
--
-- Each uid is a policy group (a currency, docs/design.md section 11) funded
-- with the same FUNDING; inside it the user's tasks hold tickets by nice
-- weight (ctx.nice_to_weight, as CFS). The core draws in two levels at every
-- decision: a user among the users with a runnable task, with probability
-- 1 / (number of such users), then a task of that user by its tickets. So a
-- user running 8 CPU-bound processes gets the same share of a contended CPU
-- as a user running 1, exactly and at every draw: a user whose tasks all
-- sleep is out of the race and dilutes no one, and one more task (or more
-- tickets) inside a user changes no other user's share (insulation).
--
-- A user's group overrides the cgroup its tasks are in. `fund uid:1000 300`
-- in lotto-shell gives one user three times the others' share.
local FUNDING = 100

return {
	name = "fair_share",
	interval_ms = 500,
	description = "each uid a currency funded equally; its tasks share it by nice weight",

	tick = function(tasks, ctx)
		local weight = ctx.nice_to_weight
		local group = ctx.group
		local users = {}	-- uid -> its group, this tick
		for i = 1, #tasks do
			local t = tasks[i]
			local uid = t.uid
			local g = users[uid]
			if g == nil then
				g = group("uid:" .. uid)
				g.funding = FUNDING
				users[uid] = g
			end
			t.group = g
			t.tickets = weight(t.nice)
		end
	end,
}

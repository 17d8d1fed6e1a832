# Waldspurger's currencies: user 1000 runs one hog, user 1001 runs eight.
# Under policies/fair_share.lua each user gets half of the machine.
cpus 1
task name=alice uid=1000 cgroup=/user.slice/user-1000.slice cpu=100%
task name=bob uid=1001 cgroup=/user.slice/user-1001.slice cpu=100% count=8

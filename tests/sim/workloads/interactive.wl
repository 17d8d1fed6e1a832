# A desktop: an editor that wakes for short bursts, a browser with a few
# threads, and a compile job. For policies/interactive.lua: sleepers get a
# boost, hogs are trimmed. Watch the editor's wait_max_ns.
cpus 2
task name=editor uid=1000 nice=0 run=500us sleep=20ms
task name=browser uid=1000 threads=4 run=3ms sleep=12ms
task name=cc1 uid=1000 cpu=100% count=3 cgroup=/user.slice/build
task name=daemon uid=0 cgroup=/system.slice run=200us sleep=250ms

# Tasks that come and go: slots are freed when a task exits and reused (gen
# bumped) by the ones that start later.
cpus 2
task name=steady cpu=100%
task name=early cpu=50% count=4 stop=10s
task name=late cpu=50% count=4 start=15s stop=40s
task name=pool threads=16 run=1ms sleep=9ms start=5s

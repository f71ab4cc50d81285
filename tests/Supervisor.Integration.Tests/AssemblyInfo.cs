// Container tests share the host's cgroup hierarchies and its 2 cores; running them one at a time keeps
// memory/pids limits and timings meaningful.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

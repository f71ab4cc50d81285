// The attacks compare host-wide facts (the mount table, binaries, /tmp) before and after; containers of
// another test running at the same time would only add noise, so the tests run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

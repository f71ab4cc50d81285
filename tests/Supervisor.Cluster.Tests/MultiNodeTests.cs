using System.Diagnostics;
using Supervisor.Cluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Supervisor.Cluster.Tests;

[CollectionDefinition("daemons", DisableParallelization = true)]
public sealed class DaemonsCollection;

/// <summary>
/// Three daemons as separate processes on loopback, each with its own state root and port, sharing one seed.
/// The workloads are busybox containers; the counter writes its value into its rootfs, so the test can
/// see whether a migrated counter goes on from where it was.
/// </summary>
[Collection("daemons")]
public sealed partial class PlacementAndMigrationTests(PlacementAndMigrationTests.ThreeNodes fixture, ITestOutputHelper output)
    : IClassFixture<PlacementAndMigrationTests.ThreeNodes>, IDisposable
{
    private const string CounterScript = "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; sleep 0.05; done";

    /// <summary>
    /// One three-node cluster for the class; each test uses its own workload ids and bundles. The second node
    /// migrates through a shared directory instead of streaming. The third node's CRIU path leads nowhere, so
    /// any restore there fails: that is how a migration failing after the dump is made.
    /// Every node also runs the remote control plane (mutual TLS with the test PKI) on a port of its own. Its
    /// operator policy allows bundles in the temp directory (where the test bundles are), except on the second
    /// node, whose only allowed root is elsewhere: it refuses every operator's config. The second and third
    /// nodes carry the label pool=b.
    /// </summary>
    public sealed class ThreeNodes : IAsyncLifetime
    {
        public string SharedImages { get; } = Path.Combine(Path.GetTempPath(), "sv-cluster-shared-" + Guid.NewGuid().ToString("N")[..8]);

        public TestCluster? Cluster { get; private set; }

        public Supervisor.Remote.Tests.Infrastructure.TestPki Pki { get; } = new();

        public IReadOnlyList<int> ControlPorts { get; } = [Shell.FreePort(), Shell.FreePort(), Shell.FreePort()];

        public (string Cert, string Key) Admin { get; private set; }

        public (string Cert, string Key) Operator { get; private set; }

        public async Task InitializeAsync()
        {
            using (var admin = Pki.Issue("admin", "admin"))
                Admin = Pki.Write("admin", admin);
            using (var op = Pki.Issue("op", "operator"))
                Operator = Pki.Write("operator", op);
            var nodes = new List<(string Cert, string Key)>();
            for (int i = 0; i < 3; i++)
            {
                using var node = Pki.Issue("node" + (i + 1), "node");
                nodes.Add(Pki.Write("node" + (i + 1), node));
            }
            string Remote(int i) => $$"""
                supervisor.remote {
                  hostname = "127.0.0.1"
                  port = {{ControlPorts[i]}}
                  tls { ca = "{{Pki.CaPath}}", certificate = "{{nodes[i].Cert}}", key = "{{nodes[i].Key}}" }
                  allowed-subjects = ["CN=admin, OU=admin, O=Supervisor Test", "CN=op, OU=operator, O=Supervisor Test"]
                  ask-timeout = 90s
                  policy.allowed-bundle-roots = ["{{(i == 1 ? "/nonexistent-allowed-root" : Path.GetFullPath(Path.GetTempPath()))}}"]
                }
                """;
            if (Environment.IsPrivilegedProcess && File.Exists(TestPaths.Daemon))
                Cluster = await TestCluster.StartAsync(3, i => Remote(i) + "\n" + (i switch
                {
                    1 => $"supervisor.cluster.migration.shared-path = \"{SharedImages}\"\nsupervisor.cluster.labels.pool = \"b\"",
                    2 => "supervisor.criu-path = \"/nonexistent/criu\"\nsupervisor.cluster.labels.pool = \"b\"",
                    _ => "",
                }));
        }

        public async Task DisposeAsync()
        {
            if (Cluster is not null)
                await Cluster.DisposeAsync();
            Shell.Run($"rm -rf {Shell.Quote(SharedImages)}");
            Pki.Dispose();
        }
    }

    private readonly List<IDisposable> _cleanup = [];

    private TestCluster Cluster => fixture.Cluster!;

    public void Dispose()
    {
        foreach (var d in _cleanup)
            d.Dispose();
    }

    private static PlacementConstraints OnNode(string name) => new(null, new Dictionary<string, string> { ["node"] = name });

    [ClusterFact(Timeout = 150_000)]
    public async Task Placement_spreads_workloads_over_every_node_and_the_cluster_list_shows_where()
    {
        var bundle = new TestBundle("/bin/sleep", "1000");
        _cleanup.Add(bundle);
        var ids = Enumerable.Range(1, 6).Select(i => $"spread-{i}").ToList();
        var placed = new List<WorkloadStatus>();
        foreach (var id in ids)
        {
            var s = await Cluster.RunAsync(id, bundle.Dir, "always");
            Assert.True(s.Phase == WorkloadPhases.Placed, $"{id}: {s}");
            placed.Add(s);
        }
        var perNode = placed.GroupBy(s => s.Node!).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine(string.Join(", ", perNode.Select(kv => $"{kv.Key}: {kv.Value}")));
        Assert.Equal(Cluster.Nodes.Select(n => n.Address).Order(), perNode.Keys.Order());

        var list = await Cluster.ListAsync(Cluster.Nodes[1]);
        Assert.Empty(list.Unanswered);
        foreach (var s in placed)
        {
            var entry = Assert.Single(list.Containers, c => c.Id == s.Id);
            Assert.Equal(s.Node, entry.Node);
            Assert.Equal("running", entry.Status);
            Assert.True(entry.Pid > 0);
            // The node's own state root (read by the CLI) holds it, and no other node's does.
            Assert.Contains(s.Id, Cluster.NodeAt(s.Node!).ListedIds());
        }

        // A workload whose constraints no node meets waits, and says why.
        var pending = await Cluster.RunAsync("spread-none", bundle.Dir, "always", OnNode("nowhere"));
        Assert.Equal(WorkloadPhases.Pending, pending.Phase);
        Assert.Contains("node=nowhere", pending.Error);

        // Removing a workload deletes its container on its node.
        var removed = (WorkloadStatus)await Cluster.AskWorkload(new RemoveWorkload("spread-1"));
        Assert.Equal(WorkloadPhases.Removed, removed.Phase);
        Assert.DoesNotContain("spread-1", Cluster.NodeAt(placed[0].Node!).ListedIds());
    }

    [ClusterFact(Timeout = 240_000)]
    public async Task A_burst_of_workloads_spreads_evenly_and_so_does_the_next_one_before_any_load_report()
    {
        var bundle = new TestBundle("/bin/sleep", "1000");
        _cleanup.Add(bundle);
        // The other tests of the class leave their workloads running: this one starts from empty nodes, and
        // from a decider whose view shows them empty (reports follow removals within a load-interval).
        var leftovers = (await Cluster.ListAsync(Cluster.Nodes[0])).Containers.Select(c => c.Id).ToList();
        await Cluster.RemoveAsync(leftovers);
        await Cluster.WaitDeciderAsync("the decider seeing every node empty", v => v.Nodes.All(n => n.Reported.RunningContainers == 0 && n.Reserved == 0));

        // Each workload entity asks the agent of its own shard's node; all of them end at the one decider.
        var first = await Task.WhenAll(Enumerable.Range(1, 9).Select(i => Cluster.RunAsync($"burst-{i}", bundle.Dir, "always")));
        Assert.All(first, s => Assert.True(s.Phase == WorkloadPhases.Placed, s.ToString()));
        output.WriteLine("first burst: " + Spread(first));
        Assert.All(Cluster.Nodes, n => Assert.Equal(3, first.Count(s => s.Node == n.Address)));

        // Right away: the decider's latest reports may or may not show the first burst yet, and either way
        // each node counts 3 (reported, or reserved and not yet retired).
        var second = await Task.WhenAll(Enumerable.Range(10, 3).Select(i => Cluster.RunAsync($"burst-{i}", bundle.Dir, "always")));
        Assert.All(second, s => Assert.True(s.Phase == WorkloadPhases.Placed, s.ToString()));
        var all = first.Concat(second).ToList();
        output.WriteLine("after the second: " + Spread(all));
        Assert.All(Cluster.Nodes, n => Assert.Equal(4, all.Count(s => s.Node == n.Address)));
        // The nodes agree: each state root holds its four.
        Assert.All(Cluster.Nodes, n => Assert.Equal(all.Where(s => s.Node == n.Address).Select(s => s.Id).Order(),
            n.ListedIds().Where(id => id.StartsWith("burst-", StringComparison.Ordinal)).Order()));

        // Once the reports show the placements, they retire the reservations: nothing is counted twice.
        await Cluster.WaitDeciderAsync("the decider's reservations retired by the nodes' reports",
            v => v.Nodes.All(n => n.Reported.RunningContainers == 4 && n.Reserved == 0));
        await Cluster.RemoveAsync(all.Select(s => s.Id));
    }

    private static string Spread(IEnumerable<WorkloadStatus> placed) =>
        string.Join(", ", placed.GroupBy(s => s.Node).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}: {g.Count()}"));

    [ClusterFact(Timeout = 150_000)]
    public async Task A_migrated_counter_keeps_counting_on_the_target_node()
    {
        var bundle = new TestBundle("/bin/sh", "-c", CounterScript);
        _cleanup.Add(bundle);
        var source = Cluster.Nodes[0];
        var target = Cluster.Nodes[1];
        var s = await Cluster.RunAsync("counter", bundle.Dir, "on-failure", OnNode(source.Name));
        Assert.Equal(source.Address, s.Node);
        var before = await WaitCounterAbove(bundle, 20);

        var report = await Cluster.AskWorkload(new MigrateWorkload("counter", target.Address), TimeSpan.FromSeconds(130));
        var m = Assert.IsType<MigrationReport>(report);
        output.WriteLine($"checkpoint {m.CheckpointMs:F0} ms, transfer {m.TransferMs:F0} ms ({m.ImageBytes} bytes), restore {m.RestoreMs:F0} ms, cleanup {m.CleanupMs:F0} ms");
        Assert.True(m.Succeeded, m.Error + "\n" + Cluster.Logs());
        Assert.Equal(target.Address, m.RunningOn);
        Assert.True(m.ImageBytes > 0);

        // The restored counter goes on from the value it had at the dump, which is at least what was read before.
        var atDump = Counter(bundle);
        Assert.True(atDump >= before, $"counter went back from {before} to {atDump}");
        var later = await WaitCounterAbove(bundle, atDump + 10);
        Assert.True(later > atDump);

        Assert.Equal(target.Address, (await Cluster.StatusAsync("counter")).Node);
        var list = await Cluster.ListAsync(source);
        var entry = Assert.Single(list.Containers, c => c.Id == "counter");
        Assert.Equal(target.Address, entry.Node);
        Assert.Equal("running", entry.Status);
        Assert.DoesNotContain("counter", source.ListedIds());
        Assert.Contains("counter", target.ListedIds());
    }

    [ClusterFact(Timeout = 150_000)]
    public async Task With_a_shared_path_the_images_are_not_streamed_and_the_counter_still_goes_on()
    {
        var bundle = new TestBundle("/bin/sh", "-c", CounterScript);
        _cleanup.Add(bundle);
        var source = Cluster.Nodes[1];
        var target = Cluster.Nodes[0];
        Assert.Equal(source.Address, (await Cluster.RunAsync("shared", bundle.Dir, "always", OnNode(source.Name))).Node);
        var before = await WaitCounterAbove(bundle, 20);

        var m = Assert.IsType<MigrationReport>(await Cluster.AskWorkload(new MigrateWorkload("shared", target.Address), TimeSpan.FromSeconds(130)));
        output.WriteLine($"shared path: checkpoint {m.CheckpointMs:F0} ms, transfer {m.TransferMs:F0} ms ({m.ImageBytes} bytes), restore {m.RestoreMs:F0} ms, cleanup {m.CleanupMs:F0} ms");
        Assert.True(m.Succeeded, m.Error + "\n" + Cluster.Logs());
        Assert.Equal(0, m.TransferMs);
        Assert.True(m.ImageBytes > 0);
        var atDump = Counter(bundle);
        Assert.True(atDump >= before, $"counter went back from {before} to {atDump}");
        Assert.True(await WaitCounterAbove(bundle, atDump + 10) > atDump);
        Assert.Contains("shared", target.ListedIds());
        // The images were used in place and removed after the restore.
        Assert.Empty(Directory.Exists(fixture.SharedImages) ? Directory.GetDirectories(fixture.SharedImages) : []);
    }

    [ClusterFact(Timeout = 150_000)]
    public async Task A_migration_to_a_node_without_the_bundle_leaves_the_container_running_on_the_source()
    {
        var bundle = new TestBundle("/bin/sh", "-c", CounterScript);
        _cleanup.Add(bundle);
        var source = Cluster.Nodes[2];
        var s = await Cluster.RunAsync("stay", bundle.Dir, "always", OnNode(source.Name));
        Assert.Equal(source.Address, s.Node);
        await WaitCounterAbove(bundle, 5);
        // The bundle disappears from every node's view (they share this host): the target refuses before the dump.
        var moved = bundle.Dir + ".moved";
        Directory.Move(bundle.Dir, moved);
        try
        {
            var report = Assert.IsType<MigrationReport>(await Cluster.AskWorkload(new MigrateWorkload("stay", Cluster.Nodes[0].Address), TimeSpan.FromSeconds(130)));
            Assert.False(report.Succeeded);
            Assert.Contains("does not exist", report.Error);
            Assert.Equal(source.Address, report.RunningOn);
        }
        finally
        {
            Directory.Move(moved, bundle.Dir);
        }
        var before = Counter(bundle);
        Assert.True(await WaitCounterAbove(bundle, before + 5) > before);
        Assert.Equal(source.Address, (await Cluster.StatusAsync("stay")).Node);
    }

    [ClusterFact(Timeout = 150_000)]
    public async Task A_restore_failing_on_the_target_brings_the_dumped_container_back_on_the_source()
    {
        var bundle = new TestBundle("/bin/sh", "-c", CounterScript);
        _cleanup.Add(bundle);
        var source = Cluster.Nodes[0];
        var broken = Cluster.Nodes[2];
        var s = await Cluster.RunAsync("comeback", bundle.Dir, "on-failure", OnNode(source.Name));
        Assert.Equal(source.Address, s.Node);
        var before = await WaitCounterAbove(bundle, 20);

        var report = Assert.IsType<MigrationReport>(await Cluster.AskWorkload(new MigrateWorkload("comeback", broken.Address), TimeSpan.FromSeconds(130)));
        output.WriteLine(report.Error);
        Assert.False(report.Succeeded);
        Assert.StartsWith("restore on " + broken.Address + " failed", report.Error);
        Assert.Equal(source.Address, report.RunningOn);
        // The dump had stopped it: it was restored on the source from its images, so it counts on from there.
        Assert.True(report.CheckpointMs > 0 && report.ImageBytes > 0);
        var atDump = Counter(bundle);
        Assert.True(atDump >= before, $"counter went back from {before} to {atDump}");
        Assert.True(await WaitCounterAbove(bundle, atDump + 10) > atDump);

        Assert.Equal(source.Address, (await Cluster.StatusAsync("comeback")).Node);
        var list = await Cluster.ListAsync(broken);
        var entry = Assert.Single(list.Containers, c => c.Id == "comeback");
        Assert.Equal(source.Address, entry.Node);
        Assert.Equal("running", entry.Status);
        Assert.DoesNotContain("comeback", broken.ListedIds());
    }

    private static int Counter(TestBundle b)
    {
        try
        {
            return int.TryParse(File.ReadAllText(b.RootfsFile("tmp/counter")).Trim(), out var v) ? v : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private async Task<int> WaitCounterAbove(TestBundle b, int min)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(30))
        {
            var v = Counter(b);
            if (v > min)
                return v;
            await Task.Delay(50);
        }
        throw new TimeoutException($"the counter never went above {min}\n{Cluster.Logs()}");
    }
}

/// <summary>A node loss: one daemon and its containers are killed with SIGKILL; its workloads move.</summary>
[Collection("daemons")]
public sealed class FailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestCluster? _cluster;
    private readonly List<IDisposable> _cleanup = [];

    public async Task InitializeAsync()
    {
        if (!Environment.IsPrivilegedProcess || !File.Exists(TestPaths.Daemon))
            return;
        _cluster = await TestCluster.StartAsync(3);
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
            await _cluster.DisposeAsync();
        foreach (var d in _cleanup)
            d.Dispose();
    }

    [ClusterFact(Timeout = 150_000)]
    public async Task Killing_a_node_places_its_workloads_on_the_others_unless_their_policy_is_no_and_a_leaving_node_fences_its_own()
    {
        var cluster = _cluster!;
        var bundle = new TestBundle("/bin/sleep", "1000");
        _cleanup.Add(bundle);
        var victim = cluster.Nodes[2];
        await cluster.WaitDeciderAsync("the placement decider knowing every node's load", _ => true);
        var pinnedNo = await cluster.RunAsync("fo-no", bundle.Dir, "no", new PlacementConstraints(null, new Dictionary<string, string> { ["node"] = victim.Name }));
        Assert.Equal(victim.Address, pinnedNo.Node);
        // The decider counts every placement it chose until the node's report shows it, so six at once on
        // top of the pinned one end 3/2/2 in some order: the node to kill and the node that leaves later
        // both get some.
        var placed = (await Task.WhenAll(Enumerable.Range(1, 6).Select(i => cluster.RunAsync($"fo-{i}", bundle.Dir, "always")))).ToList();
        Assert.All(placed, p => Assert.True(p.Phase == WorkloadPhases.Placed, p.ToString()));
        var onVictim = placed.Where(p => p.Node == victim.Address).Select(p => p.Id).ToList();
        Assert.True(onVictim.Count > 0, "placement put nothing on the node to be killed: " + string.Join(", ", placed.Select(p => $"{p.Id}@{p.Node}")));

        var before = await cluster.ListAsync(cluster.Nodes[0]);
        var sw = Stopwatch.StartNew();
        victim.KillHard();
        await cluster.WaitAsync(TimeSpan.FromSeconds(90), "the lost node's workloads running elsewhere", async () =>
        {
            var list = await cluster.ListAsync(cluster.Nodes[0]);
            foreach (var id in onVictim)
            {
                var s = await cluster.StatusAsync(id);
                if (s.Phase != WorkloadPhases.Placed || s.Node == victim.Address)
                    return false;
                if (!list.Containers.Any(c => c.Id == id && c.Node == s.Node && c.Status == "running"))
                    return false;
            }
            return true;
        });
        output.WriteLine($"{onVictim.Count} workloads moved {sw.Elapsed.TotalSeconds:F1} s after the kill");

        foreach (var id in onVictim)
        {
            var s = await cluster.StatusAsync(id);
            Assert.Contains(s.Node, cluster.Nodes.Take(2).Select(n => n.Address));
            Assert.Equal(2, s.Placements);
        }
        // Those that were elsewhere did not move, and their containers are the same processes: workload
        // entities restarted from the lost node's shards found them placed and left them alone.
        var after = await cluster.ListAsync(cluster.Nodes[0]);
        foreach (var p in placed.Where(p => p.Node != victim.Address))
        {
            Assert.Equal(p.Node, (await cluster.StatusAsync(p.Id)).Node);
            Assert.Equal(before.Containers.Single(c => c.Id == p.Id).Pid, after.Containers.Single(c => c.Id == p.Id).Pid);
        }
        // Restart policy no: not placed again.
        var no = await cluster.StatusAsync("fo-no");
        Assert.Equal(WorkloadPhases.Lost, no.Phase);
        Assert.Null(no.Node);
        var all = await cluster.ListAsync(cluster.Nodes[1]);
        Assert.DoesNotContain(all.Containers, c => c.Id == "fo-no");

        // A daemon that leaves gracefully stops the containers the cluster placed on it (fencing: the others
        // place those workloads again, which must not run twice), and they move to the last daemon.
        var leaver = cluster.Nodes[1];
        var stay = cluster.Nodes[0];
        var onLeaver = new List<string>();
        foreach (var p in placed)
        {
            if ((await cluster.StatusAsync(p.Id)).Node == leaver.Address)
                onLeaver.Add(p.Id);
        }
        Assert.NotEmpty(onLeaver);
        leaver.Terminate();
        Assert.Empty(leaver.ListedIds().Intersect(onLeaver));
        await cluster.WaitAsync(TimeSpan.FromSeconds(90), "the leaving node's workloads running on the last one", async () =>
        {
            var list = await cluster.ListAsync(stay);
            foreach (var id in onLeaver)
            {
                var s = await cluster.StatusAsync(id);
                if (s.Phase != WorkloadPhases.Placed || s.Node != stay.Address || !list.Containers.Any(c => c.Id == id && c.Node == stay.Address && c.Status == "running"))
                    return false;
            }
            return true;
        });
    }
}

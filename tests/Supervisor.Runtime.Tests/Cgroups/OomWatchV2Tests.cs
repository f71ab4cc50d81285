using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Tests.Cgroups;

/// <summary>
/// The cgroup v2 watcher over a fixture: inotify works on any file, so rewriting memory.events the way the
/// kernel updates it drives the real watch loop. (This host has no v2 memory controller; the v1 eventfd path
/// is covered by the real-kernel OOM test.)
/// </summary>
public class OomWatchV2Tests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static void Events(string dir, int oom, int kills) =>
        File.WriteAllText(Path.Combine(dir, "memory.events"), $"low 0\nhigh 0\nmax 9\noom {oom}\noom_kill {kills}\noom_group_kill 0\n");

    [Fact]
    public async Task ReportsEachRiseOfOomKill_AndEndsWhenTheCgroupGoes()
    {
        using var f = CgroupFixture.V2();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        var dir = m.Path("memory")!;
        Events(dir, 1, 1); // the count before the watch starts is the baseline

        using var oom = OomNotifier.Open(m);
        using var cts = new CancellationTokenSource(Patience);

        Events(dir, 2, 1); // an OOM without a kill: not reported
        Events(dir, 3, 3);
        var ev = await oom.Events.ReadAsync(cts.Token);
        Assert.Equal(3UL, ev.OomKillCount);

        Events(dir, 4, 4);
        Assert.Equal(4UL, (await oom.Events.ReadAsync(cts.Token)).OomKillCount);

        Directory.Delete(dir, recursive: true);
        await oom.Events.Completion.WaitAsync(cts.Token);
        Assert.False(oom.Events.TryRead(out _));
    }

    [Fact]
    public async Task Dispose_CompletesTheStream()
    {
        using var f = CgroupFixture.V2();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        var oom = OomNotifier.Open(m);
        oom.Dispose();
        await oom.Events.Completion.WaitAsync(Patience);
        var count = 0;
        await foreach (var _ in oom.ReadAllAsync())
            count++;
        Assert.Equal(0, count);
    }

    [Fact]
    public void Open_WithoutMemoryEvents_NamesTheFile()
    {
        using var f = CgroupFixture.V2();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        var events = Path.Combine(m.Path("memory")!, "memory.events");
        File.Delete(events);
        var e = Assert.Throws<Supervisor.Linux.SyscallException>(() => OomNotifier.Open(m));
        Assert.Equal(events, e.Path);
        Assert.Equal(Supervisor.Linux.Errno.ENOENT, e.Errno);
    }
}

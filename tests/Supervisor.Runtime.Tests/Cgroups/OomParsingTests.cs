using Supervisor.Runtime.Cgroups;

namespace Supervisor.Runtime.Tests.Cgroups;

public class OomParsingTests
{
    [Fact]
    public void OomControl()
    {
        var (disabled, under, kills) = OomNotifier.ParseOomControl("oom_kill_disable 1\nunder_oom 0\noom_kill 3\n");
        Assert.True(disabled);
        Assert.False(under);
        Assert.Equal(3UL, kills);
    }

    [Fact]
    public void OomControl_OlderKernelWithoutOomKillLine() =>
        Assert.Equal(0UL, OomNotifier.ParseOomControl("oom_kill_disable 0\nunder_oom 1\n").OomKill);

    [Fact]
    public void MemoryEvents()
    {
        var ev = OomNotifier.ParseMemoryEvents("low 0\nhigh 12\nmax 40\noom 2\noom_kill 1\noom_group_kill 0\n");
        Assert.Equal(1UL, ev["oom_kill"]);
        Assert.Equal(40UL, ev["max"]);
        Assert.Equal(6, ev.Count);
    }

    [Fact]
    public void Malformed_Throws()
    {
        var e = Assert.Throws<CgroupStatsException>(() => OomNotifier.ParseMemoryEvents("oom_kill x\n"));
        Assert.Equal("memory.events", e.FilePath);
    }

    [Fact]
    public void Open_WithoutMemoryCgroup_Throws()
    {
        using var f = CgroupFixture.V1();
        var paths = CgroupPaths.Resolve(f.Layout, "/c1", "c1").Where(kv => kv.Key != "memory").ToDictionary();
        var m = CgroupManager.Create(f.Layout, paths, f.Io);
        Assert.Equal("cgroup oom: the container has no memory cgroup", Assert.Throws<CgroupException>(() => OomNotifier.Open(m)).Message);
    }
}

using Supervisor.Linux;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Tests.Cgroups;

public class HybridManagerTests
{
    [Fact]
    public void RoutesEachControllerWhereItLives()
    {
        using var f = CgroupFixture.Hybrid();
        var m = f.Manager("/c1");
        m.Create(new Resources
        {
            Memory = new MemoryResources { Limit = 64 << 20 },
            Pids = new PidsResources { Limit = 20 },
            HugepageLimits = [new HugepageLimit("2MB", 2 << 20)],
        });

        Assert.Equal(CgroupVersion.V1, m.VersionOf("memory"));
        Assert.Equal(CgroupVersion.V2, m.VersionOf("hugetlb"));
        Assert.Equal(Path.Combine(f.Mount("unified"), "c1"), m.Path("hugetlb"));
        Assert.Equal((64 << 20).ToString(), f.Read(Path.Combine(f.Mount("memory"), "c1", "memory.limit_in_bytes")));
        Assert.Equal("20", f.Read(Path.Combine(f.Mount("pids"), "c1", "pids.max")));
        Assert.Equal((2 << 20).ToString(), f.Read(Path.Combine(f.Mount("unified"), "c1", "hugetlb.2MB.max")));
        // memory is v1 here: nothing written to the unified memory files (they do not even exist).
        Assert.DoesNotContain(f.Io.Writes, w => w.Path.StartsWith(f.Mount("unified")) && Path.GetFileName(w.Path).StartsWith("memory."));
    }

    [Fact]
    public void Apply_JoinsV1HierarchiesAndUnified()
    {
        using var f = CgroupFixture.Hybrid();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        m.Apply(5);
        var dirs = f.Io.Writes.Where(w => Path.GetFileName(w.Path) == "cgroup.procs").Select(w => Path.GetDirectoryName(w.Path)!).ToList();
        Assert.Contains(Path.Combine(f.Mount("unified"), "c1"), dirs);
        Assert.Contains(Path.Combine(f.Mount("systemd"), "c1"), dirs);
        Assert.Contains(Path.Combine(f.Mount("memory"), "c1"), dirs);
    }

    [Fact]
    public void V2HalfFailing_RemovesV1Dirs()
    {
        using var f = CgroupFixture.Hybrid();
        f.Io.Reject["hugetlb.2MB.max"] = Errno.EINVAL;
        var m = f.Manager("/c1");
        Assert.Throws<CgroupException>(() => m.Create(new Resources { HugepageLimits = [new HugepageLimit("2MB", 1)] }));
        foreach (var mount in new[] { "memory", "pids", "unified", "systemd" })
            Assert.False(Directory.Exists(Path.Combine(f.Mount(mount), "c1")), mount);
    }

    [Fact]
    public void Stats_MergeV1AndUnifiedHugetlb()
    {
        using var f = CgroupFixture.Hybrid();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        var s = m.GetStats();
        Assert.Equal(823296UL, s.Memory.Usage.Usage);
        Assert.Equal(2097152UL, s.Hugetlb["2MB"].Usage);
        Assert.Equal(4UL, s.Hugetlb["2MB"].Failcnt);
        Assert.Equal(18542458UL, s.Cpu.Usage.Total); // v1 cpuacct, not the unified cpu.stat
    }

    [Fact]
    public void UnsupportedController_IsAValidationError()
    {
        using var f = CgroupFixture.Hybrid();
        var m = f.Manager("/c1");
        var errors = m.Validate(new Resources { Unified = new Dictionary<string, string> { ["hugetlb.2MB.max"] = "1" } });
        Assert.Empty(errors);
        using var v1 = CgroupFixture.V1();
        Assert.Contains("unified (cgroup v2) resources need a cgroup2 hierarchy, which is not mounted",
            v1.Manager("/c1").Validate(new Resources { Unified = new Dictionary<string, string> { ["memory.high"] = "1" } }));
    }
}

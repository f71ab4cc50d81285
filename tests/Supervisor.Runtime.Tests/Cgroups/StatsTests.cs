using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Tests.Cgroups;

public class StatsTests
{
    private static (CgroupFixture F, ICgroupManager M) V1()
    {
        var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        return (f, m);
    }

    [Fact]
    public void V1_FieldByField()
    {
        var (f, m) = V1();
        using var _ = f;
        var s = m.GetStats();

        Assert.Equal(18542458UL, s.Cpu.Usage.Total);
        Assert.Equal([6103077UL, 12439381UL], s.Cpu.Usage.PerCpu);
        Assert.Equal([7917235UL, 11830162UL], s.Cpu.Usage.PerCpuKernel);
        Assert.Equal([0UL, 0UL], s.Cpu.Usage.PerCpuUser);
        Assert.Equal(30_000_000UL, s.Cpu.Usage.User);   // 3 ticks at USER_HZ 100
        Assert.Equal(10_000_000UL, s.Cpu.Usage.Kernel);
        Assert.Equal(10UL, s.Cpu.Throttling.Periods);
        Assert.Equal(2UL, s.Cpu.Throttling.ThrottledPeriods);
        Assert.Equal(5000UL, s.Cpu.Throttling.ThrottledTime);

        Assert.Equal(823296UL, s.Memory.Usage.Usage);
        Assert.Equal(2252800UL, s.Memory.Usage.MaxUsage);
        Assert.Equal(9223372036854771712UL, s.Memory.Usage.Limit);
        Assert.Equal(823296UL, s.Memory.Swap.Usage);
        Assert.Equal(475136UL, s.Memory.Kernel.Usage);
        Assert.Equal(598016UL, s.Memory.Kernel.MaxUsage);
        Assert.Equal(9223372036854771712UL, s.Memory.KernelTcp.Limit);
        Assert.Equal(4096UL, s.Memory.Cache);
        Assert.Equal(53248UL, s.Memory.Raw["total_rss"]);
        Assert.Equal(4, s.Memory.Raw.Count);
        Assert.True(s.Memory.UseHierarchy);

        Assert.Equal(1UL, s.Pids.Current);
        Assert.Equal(0UL, s.Pids.Limit); // "max"

        Assert.Equal([0UL, 1UL], s.Cpuset.Cpus);
        Assert.Equal([0UL], s.Cpuset.Mems);
        Assert.Equal(1UL, s.Cpuset.SchedLoadBalance);
        Assert.Equal(-1L, s.Cpuset.SchedRelaxDomainLevel);

        // No CFQ files here: the throttle counters, with "Total" lines skipped.
        Assert.Equal(
            [new BlkioStatEntry(8, 0, "Read", 4096), new BlkioStatEntry(8, 0, "Write", 8192), new BlkioStatEntry(8, 0, "Sync", 0),
             new BlkioStatEntry(8, 0, "Async", 12288), new BlkioStatEntry(8, 0, "Total", 12288)],
            s.Blkio.IoServiceBytesRecursive);
        Assert.Equal(2, s.Blkio.IoServicedRecursive.Count);
        Assert.Empty(s.Blkio.SectorsRecursive);

        Assert.Equal(["1GB", "2MB"], s.Hugetlb.Keys.Order());
        Assert.Equal(9223372036854771712UL, s.Hugetlb["2MB"].Limit);
    }

    [Fact]
    public void V1_Pids_WithLimit()
    {
        var (f, m) = V1();
        using var _ = f;
        m.Set(new Resources { Pids = new PidsResources { Limit = 20 } });
        Assert.Equal(20UL, m.GetStats().Pids.Limit);
    }

    [Fact]
    public void V1_CfqFiles_WhenServicedRecursiveIsNonEmpty()
    {
        var (f, m) = V1();
        using var _ = f;
        var dir = m.Path("blkio")!;
        File.WriteAllText(Path.Combine(dir, "blkio.io_serviced_recursive"), "8:0 Read 5\n8:0 Write 6\nTotal 11\n");
        File.WriteAllText(Path.Combine(dir, "blkio.sectors_recursive"), "8:0 80\n");
        File.WriteAllText(Path.Combine(dir, "blkio.time_recursive"), "8:0 12\n");
        var s = m.GetStats();
        Assert.Equal([new BlkioStatEntry(8, 0, "Read", 5), new BlkioStatEntry(8, 0, "Write", 6)], s.Blkio.IoServicedRecursive);
        Assert.Equal([new BlkioStatEntry(8, 0, "", 80)], s.Blkio.SectorsRecursive);
        Assert.Equal([new BlkioStatEntry(8, 0, "", 12)], s.Blkio.IoTimeRecursive);
        Assert.Empty(s.Blkio.IoServiceBytesRecursive); // CFQ file missing → empty, not the throttle file
    }

    [Fact]
    public void V1_MissingOptionalFiles_GiveZeros()
    {
        var (f, m) = V1();
        using var _ = f;
        var mem = m.Path("memory")!;
        foreach (var file in Directory.GetFiles(mem, "memory.memsw.*").Concat(Directory.GetFiles(mem, "memory.kmem.*")))
            File.Delete(file);
        File.Delete(Path.Combine(m.Path("cpu")!, "cpu.stat"));
        File.Delete(Path.Combine(m.Path("cpuacct")!, "cpuacct.usage_percpu_user"));

        var s = m.GetStats();

        Assert.Equal(0UL, s.Memory.Swap.Usage);
        Assert.Equal(0UL, s.Memory.Kernel.Limit);
        Assert.Equal(0UL, s.Cpu.Throttling.Periods);
        Assert.Empty(s.Cpu.Usage.PerCpuUser);
        Assert.Equal(823296UL, s.Memory.Usage.Usage);
    }

    [Fact]
    public void NegativeCounter_SaturatesToZero()
    {
        var (f, m) = V1();
        using var _ = f;
        File.WriteAllText(Path.Combine(m.Path("memory")!, "memory.soft_limit_in_bytes"), "-1");
        File.WriteAllText(Path.Combine(m.Path("memory")!, "memory.failcnt"), "-1\n");
        Assert.Equal(0UL, m.GetStats().Memory.Usage.Failcnt);
    }

    [Theory]
    [InlineData("memory", "memory.usage_in_bytes", "12x\n", "\"12x\" is not a number")]
    [InlineData("memory", "memory.stat", "cache 1\nrss\n", "expected \"key value\"")]
    [InlineData("cpu", "cpu.stat", "nr_periods abc\n", "\"abc\" is not a number")]
    [InlineData("blkio", "blkio.throttle.io_serviced", "8:0 Read 1 extra\n", "expected \"major:minor [op] value\"")]
    [InlineData("blkio", "blkio.throttle.io_serviced", "80 Read 1\n", "\"80\" is not major:minor")]
    [InlineData("cpuset", "cpuset.cpus", "3-1\n", "bad range \"3-1\"")]
    public void Malformed_NamesFileAndLine(string controller, string file, string content, string problem)
    {
        var (f, m) = V1();
        using var _ = f;
        var path = Path.Combine(m.Path(controller)!, file);
        File.WriteAllText(path, content);

        var e = Assert.Throws<CgroupStatsException>(() => m.GetStats());

        Assert.Equal(path, e.FilePath);
        Assert.StartsWith($"cgroup stats {path}: {problem} in line ", e.Message);
    }

    [Fact]
    public void V2_FieldByField()
    {
        using var f = CgroupFixture.V2();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        var s = m.GetStats();

        Assert.Equal(2_500_000UL, s.Cpu.Usage.Total);
        Assert.Equal(1_500_000UL, s.Cpu.Usage.User);
        Assert.Equal(1_000_000UL, s.Cpu.Usage.Kernel);
        Assert.Equal(7UL, s.Cpu.Throttling.Periods);
        Assert.Equal(3UL, s.Cpu.Throttling.ThrottledPeriods);
        Assert.Equal(40_000UL, s.Cpu.Throttling.ThrottledTime);
        Assert.Empty(s.Cpu.Usage.PerCpu);

        Assert.Equal(1048576UL, s.Memory.Usage.Usage);
        Assert.Equal(2097152UL, s.Memory.Usage.MaxUsage);
        Assert.Equal(ulong.MaxValue, s.Memory.Usage.Limit); // "max"
        Assert.Equal(5UL, s.Memory.Usage.Failcnt);           // memory.events max
        Assert.Equal(1048576UL + 4096UL, s.Memory.Swap.Usage);
        Assert.Equal(ulong.MaxValue, s.Memory.Swap.Limit);
        Assert.Equal(16384UL, s.Memory.Cache);
        Assert.Equal(8192UL, s.Memory.Raw["anon"]);

        Assert.Equal(3UL, s.Pids.Current);
        Assert.Equal(0UL, s.Pids.Limit);

        Assert.Equal([new BlkioStatEntry(8, 0, "Read", 4096), new BlkioStatEntry(8, 0, "Write", 8192)], s.Blkio.IoServiceBytesRecursive);
        Assert.Equal([new BlkioStatEntry(8, 0, "Read", 1), new BlkioStatEntry(8, 0, "Write", 2)], s.Blkio.IoServicedRecursive);

        Assert.Equal(["2MB"], s.Hugetlb.Keys); // the rsvd files are not a page size
        Assert.Equal(2097152UL, s.Hugetlb["2MB"].Usage);
        Assert.Equal(4UL, s.Hugetlb["2MB"].Failcnt);
        Assert.Equal([0UL, 1UL], s.Cpuset.Cpus);
    }

    [Fact]
    public void V2_LimitsReadBack()
    {
        using var f = CgroupFixture.V2();
        var m = f.Manager("/c1");
        m.Create(new Resources { Memory = new MemoryResources { Limit = 1 << 20, Swap = 3 << 20 }, Pids = new PidsResources { Limit = 9 } });
        var s = m.GetStats();
        Assert.Equal(1UL << 20, s.Memory.Usage.Limit);
        Assert.Equal(3UL << 20, s.Memory.Swap.Limit); // swap.max + memory.max, v1's memsw meaning
        Assert.Equal(9UL, s.Pids.Limit);
    }

    [Fact]
    public void V2_MissingFiles_GiveZeros_AndMalformedIoStat_Throws()
    {
        using var f = CgroupFixture.V2();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        var dir = m.Path("")!;
        File.Delete(Path.Combine(dir, "memory.peak"));
        File.Delete(Path.Combine(dir, "memory.swap.current"));
        File.Delete(Path.Combine(dir, "io.stat"));
        var s = m.GetStats();
        Assert.Equal(0UL, s.Memory.Usage.MaxUsage);
        Assert.Empty(s.Blkio.IoServiceBytesRecursive);

        File.WriteAllText(Path.Combine(dir, "io.stat"), "8:0 rbytes\n");
        var e = Assert.Throws<CgroupStatsException>(() => m.GetStats());
        Assert.Contains("\"rbytes\" is not key=value", e.Message);
    }

    [Fact]
    public void GoneCgroup_GivesEmptyStats()
    {
        using var f = CgroupFixture.V1();
        var s = f.Manager("/never-created").GetStats();
        Assert.Equal(0UL, s.Memory.Usage.Usage);
        Assert.Empty(s.Hugetlb);
    }
}

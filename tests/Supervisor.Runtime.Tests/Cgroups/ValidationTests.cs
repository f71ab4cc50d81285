using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Tests.Cgroups;

public class ValidationTests
{
    private static IReadOnlyList<string> V1(Resources r)
    {
        using var f = CgroupFixture.V1();
        return f.Manager("/c1").Validate(r);
    }

    [Fact]
    public void Valid_HasNoErrors() =>
        Assert.Empty(V1(new Resources
        {
            Memory = new MemoryResources { Limit = 1 << 20, Swap = 2 << 20, Swappiness = 100 },
            Cpu = new CpuResources { Shares = 2, Quota = -1, Period = 1000, Cpus = "0-1,3", Mems = "0" },
            BlockIo = new BlockIoResources { Weight = 10 },
            Devices = [new DeviceRule(true, 'c', 1, 3, "rwm")],
        }));

    [Theory]
    [InlineData(-2L, null, "memory limit -2 must be -1 (unlimited) or non-negative")]
    [InlineData(2097152L, 1048576L, "memory+swap limit 1048576 must not be lower than the memory limit 2097152")]
    [InlineData(-1L, 1048576L, "memory+swap limit 1048576 cannot be set with an unlimited memory limit")]
    [InlineData(null, -5L, "memory+swap limit -5 must be -1 (unlimited) or non-negative")]
    public void Memory(long? limit, long? swap, string error) =>
        Assert.Contains(error, V1(new Resources { Memory = new MemoryResources { Limit = limit, Swap = swap } }));

    [Fact]
    public void Swappiness_Above100() =>
        Assert.Contains("memory swappiness 101 is out of range 0..100", V1(new Resources { Memory = new MemoryResources { Swappiness = 101 } }));

    [Theory]
    [InlineData(1UL, null, null, "cpu shares 1 is out of range 2..262144")]
    [InlineData(262145UL, null, null, "cpu shares 262145 is out of range 2..262144")]
    [InlineData(null, 500L, null, "cpu quota 500 must be -1 (unlimited) or at least 1000 µs")]
    [InlineData(null, -2L, null, "cpu quota -2 must be -1 (unlimited) or at least 1000 µs")]
    [InlineData(null, null, 999UL, "cpu period 999 is out of range 1000..1000000 µs")]
    [InlineData(null, null, 1000001UL, "cpu period 1000001 is out of range 1000..1000000 µs")]
    public void Cpu(ulong? shares, long? quota, ulong? period, string error) =>
        Assert.Contains(error, V1(new Resources { Cpu = new CpuResources { Shares = shares, Quota = quota, Period = period } }));

    [Fact]
    public void CpuBurst_And_Realtime()
    {
        var errors = V1(new Resources { Cpu = new CpuResources { Burst = 5000, Quota = 2000, RealtimeRuntime = 2000, RealtimePeriod = 1000 } });
        Assert.Contains("cpu burst 5000 must not exceed the cpu quota 2000", errors);
        Assert.Contains("cpu realtime runtime 2000 must not exceed the realtime period 1000", errors);
        Assert.Contains("cpu burst 10 needs a cpu quota", V1(new Resources { Cpu = new CpuResources { Burst = 10 } }));
    }

    [Theory]
    [InlineData("0-")]
    [InlineData("2-1")]
    [InlineData("a")]
    [InlineData("0,,1")]
    [InlineData(" 0")]
    public void CpusetSyntax(string cpus) =>
        Assert.Contains($"cpuset cpus \"{cpus}\" is not a list like 0-2,4", V1(new Resources { Cpu = new CpuResources { Cpus = cpus } }));

    [Fact]
    public void Blkio_Weights()
    {
        var errors = V1(new Resources
        {
            BlockIo = new BlockIoResources { Weight = 1001, LeafWeight = 9, WeightDevices = [new WeightDevice(-1, 0, 5, null)] },
        });
        Assert.Contains("blkio weight 1001 is out of range 10..1000", errors);
        Assert.Contains("blkio leaf weight 9 is out of range 10..1000", errors);
        Assert.Contains("blkio weight device -1:0 has a negative number", errors);
        Assert.Contains("blkio weight for device -1:0 5 is out of range 10..1000", errors);
    }

    [Fact]
    public void Devices_And_Hugetlb_And_Network()
    {
        var errors = V1(new Resources
        {
            Devices = [new DeviceRule(true, 'x', 1, 3, "rwm"), new DeviceRule(true, 'c', 1, 3, "rwx"), new DeviceRule(true, 'c', 1, 3, "rr")],
            HugepageLimits = [new HugepageLimit("2M", 1)],
            Network = new NetworkResources { Priorities = [new InterfacePriority("eth 0", 1)] },
        });
        Assert.Contains("device rule type 'x' must be a, b or c", errors);
        Assert.Contains("device rule access \"rwx\" must be a subset of rwm", errors);
        Assert.Contains("device rule access \"rr\" must be a subset of rwm", errors);
        Assert.Contains("hugetlb page size \"2M\" is not like 2MB or 1GB", errors);
        Assert.Contains("network priority interface name \"eth 0\" is invalid", errors);
    }

    [Fact]
    public void MissingController_IsNamed()
    {
        using var f = CgroupFixture.V1();
        // A host without the pids controller.
        var paths = CgroupPaths.Resolve(f.Layout, "/c1", "c1").Where(kv => kv.Key != "pids").ToDictionary();
        var errors = CgroupManager.Create(f.Layout, paths, f.Io).Validate(new Resources { Pids = new PidsResources { Limit = 3 } });
        Assert.Equal(["a pids limit needs the pids cgroup controller, which is not available"], errors);
    }
}

using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Tests.Cgroups;

public class V2ManagerTests
{
    [Fact]
    public void Device_rules_become_one_program_on_the_directory_and_an_update_without_rules_keeps_it()
    {
        using var f = CgroupFixture.V2("/user.slice");
        var m = f.Manager(null, "c1");
        IReadOnlyList<DeviceRule> rules = [new DeviceRule(false, 'a', null, null, "rwm"), new DeviceRule(true, 'c', 1, 3, "rwm")];
        m.Create(new Resources { Devices = rules });
        var (dir, prog) = Assert.Single(f.Io.DevicePrograms);
        Assert.Equal(m.Path(""), dir);
        Assert.Equal(DeviceFilter.Compile(rules), prog);
        m.Set(new Resources { Pids = new PidsResources { Limit = 5 } });
        Assert.Single(f.Io.DevicePrograms);
    }

    [Fact]
    public void Create_WritesV2Files_AndDelegatesControllers()
    {
        using var f = CgroupFixture.V2("/user.slice");
        var m = f.Manager(null, "c1");
        m.Create(new Resources
        {
            Memory = new MemoryResources { Limit = 64 << 20, Reservation = 16 << 20, Swap = 96 << 20 },
            Cpu = new CpuResources { Shares = 1024, Quota = 50000, Period = 100000, Burst = 1000, Idle = 1, Cpus = "0", Mems = "0" },
            Pids = new PidsResources { Limit = 20 },
            BlockIo = new BlockIoResources
            {
                Weight = 500,
                WeightDevices = [new WeightDevice(8, 0, 100, null)],
                ThrottleReadBpsDevices = [new ThrottleDevice(8, 0, 1000)],
                ThrottleWriteBpsDevices = [new ThrottleDevice(8, 0, 2000)],
                ThrottleReadIopsDevices = [new ThrottleDevice(8, 0, 30)],
                ThrottleWriteIopsDevices = [new ThrottleDevice(8, 16, 40)],
            },
            HugepageLimits = [new HugepageLimit("2MB", 2 << 20)],
            Unified = new Dictionary<string, string> { ["memory.high"] = "50331648" },
        });

        var dir = m.Path("")!;
        Assert.Equal(Path.Combine(f.Mount("unified"), "user.slice", "c1"), dir);
        string R(string file) => f.Read(Path.Combine(dir, file));
        Assert.Equal((64 << 20).ToString(), R("memory.max"));
        Assert.Equal((16 << 20).ToString(), R("memory.low"));
        Assert.Equal((32 << 20).ToString(), R("memory.swap.max")); // memsw - memory
        Assert.Equal("50331648", R("memory.high"));
        Assert.Equal("39", R("cpu.weight")); // 1 + (1024-2)*9999/262142
        Assert.Equal("50000 100000", R("cpu.max"));
        Assert.Equal("1000", R("cpu.max.burst"));
        Assert.Equal("1", R("cpu.idle"));
        Assert.Equal("0", R("cpuset.cpus"));
        Assert.Equal("0", R("cpuset.mems"));
        Assert.Equal("20", R("pids.max"));
        Assert.Equal((2 << 20).ToString(), R("hugetlb.2MB.max"));
        Assert.Equal(["default 4950", "8:0 910"], f.Io.WritesTo("io.weight"));
        Assert.Equal(["8:0 rbps=1000 wbps=2000 riops=30", "8:16 wiops=40"], f.Io.WritesTo("io.max"));
        // The parent (our own cgroup) delegates the controllers the new cgroup needs.
        Assert.Equal(["+cpu +cpuset +hugetlb +io +memory +pids"], f.Io.WritesTo("cgroup.subtree_control"));
        Assert.Equal(CgroupVersion.V2, m.VersionOf("memory"));
        Assert.Equal(CgroupVersion.V2, m.VersionOf("blkio"));
    }

    [Theory]
    [InlineData(2UL, 1UL)]
    [InlineData(1024UL, 39UL)]
    [InlineData(262144UL, 10000UL)]
    public void SharesToWeight_MatchesTheOciMapping(ulong shares, ulong weight) =>
        Assert.Equal(weight, V2CgroupManager.SharesToWeight(shares));

    [Fact]
    public void Unlimited_IsMax_AndPeriodWithoutQuota_IsMaxPeriod()
    {
        using var f = CgroupFixture.V2();
        var m = f.Manager("/c1");
        m.Create(new Resources
        {
            Memory = new MemoryResources { Limit = -1, Swap = -1 },
            Cpu = new CpuResources { Period = 50000 },
            Pids = new PidsResources { Limit = 0 },
        });
        var dir = m.Path("")!;
        Assert.Equal("max", f.Read(Path.Combine(dir, "memory.max")));
        Assert.Equal("max", f.Read(Path.Combine(dir, "memory.swap.max")));
        Assert.Equal("max 50000", f.Read(Path.Combine(dir, "cpu.max")));
        Assert.Equal("max", f.Read(Path.Combine(dir, "pids.max")));
    }

    [Fact]
    public void Validate_RejectsV1OnlySettings_DeviceRules_AndBadUnifiedKeys()
    {
        using var f = CgroupFixture.V2();
        var m = f.Manager("/c1");
        var errors = m.Validate(new Resources
        {
            Memory = new MemoryResources { Swappiness = 10, DisableOomKiller = true, Swap = 100 },
            Cpu = new CpuResources { RealtimeRuntime = 1000 },
            Network = new NetworkResources { ClassId = 1 },
            Devices = [new DeviceRule(true, 'c', 1, 3, "rwm")],
            Unified = new Dictionary<string, string> { ["../etc/passwd"] = "x", ["a/b.c"] = "y", ["memory.high"] = "1" },
        });
        Assert.Contains("memory swappiness is not supported on cgroup v2", errors);
        Assert.Contains("disabling the OOM killer is not supported on cgroup v2", errors);
        Assert.Contains("memory+swap limit on cgroup v2 needs a memory limit (swap.max = memory+swap - memory)", errors);
        Assert.Contains("cpu realtime scheduling is not supported on cgroup v2", errors);
        Assert.Contains(errors, e => e.StartsWith("a network class id needs the net_cls cgroup controller"));
        // Device rules are an eBPF program on v2, so they are accepted.
        Assert.DoesNotContain(errors, e => e.Contains("device"));
        Assert.Contains("unified key \"../etc/passwd\" is not a cgroup file name", errors);
        Assert.Contains("unified key \"a/b.c\" is not a cgroup file name", errors);
        Assert.DoesNotContain(errors, e => e.Contains("memory.high"));
    }

    [Fact]
    public void UnifiedKey_ForMissingFile_FailsAndRollsBack()
    {
        using var f = CgroupFixture.V2();
        var m = f.Manager("/new/c1");
        var e = Assert.Throws<CgroupException>(() => m.Create(new Resources { Unified = new Dictionary<string, string> { ["rdma.max"] = "x" } }));
        Assert.StartsWith("cgroup rdma.max=x: no such file", e.Message);
        Assert.False(Directory.Exists(Path.Combine(f.Mount("unified"), "new")));
    }

    [Fact]
    public void Apply_GetPids_Destroy()
    {
        using var f = CgroupFixture.V2();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        m.Apply(99);
        Assert.Equal([99], m.GetPids());
        File.WriteAllText(Path.Combine(m.Path("")!, "cgroup.procs"), "");
        f.Io.CreateDirectory(Path.Combine(m.Path("")!, "leaf"));
        m.Destroy();
        Assert.False(m.Exists());
    }
}

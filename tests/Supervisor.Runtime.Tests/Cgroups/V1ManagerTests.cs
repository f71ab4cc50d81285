using Supervisor.Linux;
using Supervisor.Runtime.Cgroups;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Tests.Cgroups;

public class V1ManagerTests
{
    private static readonly Resources Full = new()
    {
        Memory = new MemoryResources
        {
            Limit = 64 << 20, Reservation = 32 << 20, Swap = 128 << 20, Kernel = 16 << 20, KernelTcp = 8 << 20,
            Swappiness = 10, DisableOomKiller = true,
        },
        Cpu = new CpuResources
        {
            Shares = 512, Quota = 50000, Period = 100000, Burst = 1000, RealtimeRuntime = 950000, RealtimePeriod = 1000000,
            Cpus = "0", Mems = "0", Idle = 0,
        },
        Pids = new PidsResources { Limit = 20 },
        BlockIo = new BlockIoResources
        {
            Weight = 300, LeafWeight = 200,
            WeightDevices = [new WeightDevice(8, 0, 400, 100)],
            ThrottleReadBpsDevices = [new ThrottleDevice(8, 0, 1048576)],
            ThrottleWriteBpsDevices = [new ThrottleDevice(8, 0, 2097152)],
            ThrottleReadIopsDevices = [new ThrottleDevice(8, 16, 100)],
            ThrottleWriteIopsDevices = [new ThrottleDevice(8, 16, 200)],
        },
        HugepageLimits = [new HugepageLimit("2MB", 4 << 20)],
        Network = new NetworkResources { ClassId = 0x100001, Priorities = [new InterfacePriority("eth0", 5), new InterfacePriority("lo", 1)] },
        Devices =
        [
            new DeviceRule(false, 'a', null, null, "rwm"),
            new DeviceRule(true, 'c', 1, 3, "rwm"),
            new DeviceRule(true, 'c', 136, null, "rw"),
            new DeviceRule(false, 'c', 1, 3, "m"),
        ],
    };

    [Fact]
    public void Create_WritesEveryV1File()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/ctr/c1");
        m.Create(Full);

        string P(string c, string file) => Path.Combine(m.Path(c)!, file);
        Assert.Equal((64 << 20).ToString(), f.Read(P("memory", "memory.limit_in_bytes")));
        Assert.Equal((32 << 20).ToString(), f.Read(P("memory", "memory.soft_limit_in_bytes")));
        Assert.Equal((128 << 20).ToString(), f.Read(P("memory", "memory.memsw.limit_in_bytes")));
        Assert.Equal((16 << 20).ToString(), f.Read(P("memory", "memory.kmem.limit_in_bytes")));
        Assert.Equal((8 << 20).ToString(), f.Read(P("memory", "memory.kmem.tcp.limit_in_bytes")));
        Assert.Equal("10", f.Read(P("memory", "memory.swappiness")));
        Assert.Equal("1", f.Read(P("memory", "memory.oom_control")));
        Assert.Equal("512", f.Read(P("cpu", "cpu.shares")));
        Assert.Equal("50000", f.Read(P("cpu", "cpu.cfs_quota_us")));
        Assert.Equal("100000", f.Read(P("cpu", "cpu.cfs_period_us")));
        Assert.Equal("1000", f.Read(P("cpu", "cpu.cfs_burst_us")));
        Assert.Equal("950000", f.Read(P("cpu", "cpu.rt_runtime_us")));
        Assert.Equal("1000000", f.Read(P("cpu", "cpu.rt_period_us")));
        Assert.Equal("0", f.Read(P("cpu", "cpu.idle")));
        Assert.Equal("0", f.Read(P("cpuset", "cpuset.cpus")));
        Assert.Equal("0", f.Read(P("cpuset", "cpuset.mems")));
        Assert.Equal("20", f.Read(P("pids", "pids.max")));
        Assert.Equal("300", f.Read(P("blkio", "blkio.weight")));
        Assert.Equal("200", f.Read(P("blkio", "blkio.leaf_weight")));
        Assert.Equal(["8:0 400"], f.Io.WritesTo("blkio.weight_device"));
        Assert.Equal(["8:0 100"], f.Io.WritesTo("blkio.leaf_weight_device"));
        Assert.Equal(["8:0 1048576"], f.Io.WritesTo("blkio.throttle.read_bps_device"));
        Assert.Equal(["8:0 2097152"], f.Io.WritesTo("blkio.throttle.write_bps_device"));
        Assert.Equal(["8:16 100"], f.Io.WritesTo("blkio.throttle.read_iops_device"));
        Assert.Equal(["8:16 200"], f.Io.WritesTo("blkio.throttle.write_iops_device"));
        Assert.Equal((4 << 20).ToString(), f.Read(P("hugetlb", "hugetlb.2MB.limit_in_bytes")));
        Assert.Equal("1048577", f.Read(P("net_cls", "net_cls.classid")));
        Assert.Equal(["eth0 5", "lo 1"], f.Io.WritesTo("net_prio.ifpriomap"));
        // Default deny first, then the rules in order, each to its file.
        var deviceWrites = f.Io.Writes.Where(w => Path.GetFileName(w.Path).StartsWith("devices."))
            .Select(w => Path.GetFileName(w.Path) + " " + w.Value).ToList();
        Assert.Equal(["devices.deny a", "devices.deny a *:* rwm", "devices.allow c 1:3 rwm", "devices.allow c 136:* rw", "devices.deny c 1:3 m"], deviceWrites);
        // No task joined during Create.
        Assert.DoesNotContain(f.Io.Writes, w => Path.GetFileName(w.Path) == "cgroup.procs");
    }

    [Fact]
    public void Create_MakesEveryHierarchyDir_CoMountedOnce()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/ctr/c1");
        m.Create(new Resources());
        Assert.True(m.Exists());
        foreach (var dir in m.Paths.Values)
            Assert.True(Directory.Exists(dir), dir);
        Assert.Equal(m.Paths["cpu"], m.Paths["cpuacct"]);
        Assert.Contains("name=systemd", m.Paths.Keys);
        Assert.Equal(CgroupVersion.V1, m.VersionOf("memory"));
        Assert.Null(m.VersionOf("rdma"));
    }

    [Fact]
    public void Create_CopiesCpusetIntoEveryNewLevel()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/a/b/c");
        m.Create(new Resources { Cpu = new CpuResources { Cpus = "1" } });

        var leaf = m.Path("cpuset")!;
        Assert.Equal("0-1", f.Read(Path.Combine(f.Mount("cpuset"), "a", "cpuset.cpus")));
        Assert.Equal("0", f.Read(Path.Combine(f.Mount("cpuset"), "a", "b", "cpuset.mems")));
        Assert.Equal("1", f.Read(Path.Combine(leaf, "cpuset.cpus")));
        Assert.Equal("0", f.Read(Path.Combine(leaf, "cpuset.mems")));
    }

    [Fact]
    public void Create_Failure_NamesFileAndValue_AndRemovesWhatItCreated()
    {
        using var f = CgroupFixture.V1();
        f.Io.Reject["pids.max"] = Errno.EINVAL;
        var m = f.Manager("/new/c1");

        var e = Assert.Throws<CgroupException>(() => m.Create(new Resources { Pids = new PidsResources { Limit = 5 } }));

        Assert.Equal("cgroup pids.max=5: invalid argument", e.Message);
        Assert.Equal(Errno.EINVAL, e.Errno);
        foreach (var mount in new[] { "memory", "pids", "cpu,cpuacct", "systemd" })
            Assert.False(Directory.Exists(Path.Combine(f.Mount(mount), "new")), mount);
    }

    [Fact]
    public void Create_Failure_KeepsDirectoriesThatExistedBefore()
    {
        using var f = CgroupFixture.V1();
        Directory.CreateDirectory(Path.Combine(f.Mount("pids"), "keep"));
        f.Io.CreateDirectory(Path.Combine(f.Mount("pids"), "keep", "c1"));
        f.Io.Reject["memory.limit_in_bytes"] = Errno.EINVAL;

        Assert.Throws<CgroupException>(() => f.Manager("/keep/c1").Create(new Resources { Memory = new MemoryResources { Limit = 1 << 20 } }));

        Assert.True(Directory.Exists(Path.Combine(f.Mount("pids"), "keep", "c1")));
        Assert.False(Directory.Exists(Path.Combine(f.Mount("memory"), "keep")));
    }

    [Fact]
    public void Apply_WritesPidToEveryHierarchy()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        m.Apply(4242);

        var joined = f.Io.Writes.Where(w => Path.GetFileName(w.Path) == "cgroup.procs").ToList();
        Assert.All(joined, w => Assert.Equal("4242", w.Value));
        Assert.Equal(m.Paths.Values.Distinct().Order(), joined.Select(w => Path.GetDirectoryName(w.Path)!).Order());
        Assert.Contains(joined, w => w.Path.StartsWith(f.Mount("systemd")));
    }

    [Fact]
    public void Set_Invalid_WritesNothing()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        f.Io.Writes.Clear();

        var e = Assert.Throws<CgroupException>(() => m.Set(new Resources
        {
            Memory = new MemoryResources { Limit = 1 << 20 },
            Cpu = new CpuResources { Shares = 1 },
            BlockIo = new BlockIoResources { Weight = 5 },
        }));

        Assert.Empty(f.Io.Writes);
        Assert.Contains("cpu shares 1 is out of range 2..262144", e.Message);
        Assert.Contains("blkio weight 5 is out of range 10..1000", e.Message);
    }

    [Fact]
    public void SwapOrdering_RaisingWritesMemswFirst_LoweringWritesMemoryFirst()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        m.Create(new Resources { Memory = new MemoryResources { Limit = 64 << 20, Swap = 64 << 20 } });

        // Raising memory above the current memsw would be EINVAL; memsw must move first.
        f.Io.Writes.Clear();
        m.Set(new Resources { Memory = new MemoryResources { Limit = 128 << 20, Swap = 256 << 20 } });
        Assert.Equal(["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"], f.Io.Writes.Select(w => Path.GetFileName(w.Path)));

        // Lowering memsw below the current memory would be EINVAL; memory must move first.
        f.Io.Writes.Clear();
        m.Set(new Resources { Memory = new MemoryResources { Limit = 32 << 20, Swap = 32 << 20 } });
        Assert.Equal(["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"], f.Io.Writes.Select(w => Path.GetFileName(w.Path)));
        Assert.Equal((32 << 20).ToString(), f.Read(Path.Combine(m.Path("memory")!, "memory.memsw.limit_in_bytes")));

        // Back to unlimited: both -1, memsw first.
        f.Io.Writes.Clear();
        m.Set(new Resources { Memory = new MemoryResources { Limit = -1, Swap = -1 } });
        Assert.Equal(["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"], f.Io.Writes.Select(w => Path.GetFileName(w.Path)));
    }

    [Fact]
    public void Pids_ZeroOrLess_IsMax()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        m.Create(new Resources { Pids = new PidsResources { Limit = 10 } });
        m.Set(new Resources { Pids = new PidsResources { Limit = 0 } });
        Assert.Equal("max", f.Read(Path.Combine(m.Path("pids")!, "pids.max")));
        m.Set(new Resources { Pids = new PidsResources { Limit = -1 } });
        Assert.Equal("max", f.Read(Path.Combine(m.Path("pids")!, "pids.max")));
    }

    [Fact]
    public void CpuShares_ClampedByKernel_IsReported()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        // Simulate the kernel clamping: the value reads back different from what was written.
        var shares = Path.Combine(m.Path("cpu")!, "cpu.shares");
        var io = new ClampingIo(shares);
        var m2 = CgroupManager.Create(f.Layout, m.Paths, io);
        var e = Assert.Throws<CgroupException>(() => m2.Set(new Resources { Cpu = new CpuResources { Shares = 262144 } }));
        Assert.Contains("the kernel set 1024", e.Message);
    }

    private sealed class ClampingIo(string sharesFile) : CgroupIo
    {
        public override void Write(string path, string value) => base.Write(path, path == sharesFile ? "1024" : value);
    }

    [Fact]
    public void GetPids_ReadsDevicesHierarchy_RecursiveIncludesSubCgroups()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        var dev = m.Path("devices")!;
        File.WriteAllText(Path.Combine(dev, "cgroup.procs"), "10\n11\n");
        f.Io.CreateDirectory(Path.Combine(dev, "sub"));
        File.WriteAllText(Path.Combine(dev, "sub", "cgroup.procs"), "12\n");

        Assert.Equal([10, 11, 12], m.GetPids());
        Assert.Equal([10, 11], m.GetPids(recursive: false));
    }

    [Fact]
    public void Destroy_RemovesSubCgroupsDeepestFirst_AndIsIdempotent()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/ctr/c1");
        m.Create(new Resources());
        f.Io.CreateDirectory(Path.Combine(m.Path("memory")!, "sub"));
        f.Io.CreateDirectory(Path.Combine(m.Path("memory")!, "sub", "deeper"));

        m.Destroy();

        Assert.False(m.Exists());
        foreach (var dir in m.Paths.Values)
            Assert.False(Directory.Exists(dir), dir);
        m.Destroy(); // ENOENT = already gone
    }

    [Fact]
    public void Destroy_WithTasksLeft_ListsWhatRemains()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        m.Create(new Resources());
        File.WriteAllText(Path.Combine(m.Path("pids")!, "cgroup.procs"), "77\n");

        var e = Assert.Throws<CgroupException>(() => m.Destroy());

        Assert.StartsWith("cgroup destroy: could not remove ", e.Message);
        Assert.Contains(m.Path("pids")! + " (device or resource busy)", e.Message);
        Assert.False(Directory.Exists(m.Path("memory")!));
    }

    [Fact]
    public void Set_UnchangedDeviceRules_DoesNotResetThem()
    {
        using var f = CgroupFixture.V1();
        var m = f.Manager("/c1");
        IReadOnlyList<DeviceRule> rules = [new DeviceRule(false, 'a', null, null, "rwm"), new DeviceRule(true, 'c', 1, 3, "rwm"), new DeviceRule(true, 'c', 136, null, "rw")];
        m.Create(new Resources { Devices = rules });
        Assert.Equal(4, f.Io.Writes.Count(w => Path.GetFileName(w.Path).StartsWith("devices.")));
        // What the kernel's devices.list reads after those writes.
        File.WriteAllText(Path.Combine(m.Path("devices")!, "devices.list"), "c 1:3 rwm\nc 136:* rw\n");
        f.Io.Writes.Clear();

        m.Set(new Resources { Devices = rules, Pids = new PidsResources { Limit = 3 } });
        Assert.DoesNotContain(f.Io.Writes, w => Path.GetFileName(w.Path).StartsWith("devices."));

        m.Set(new Resources { Devices = [.. rules, new DeviceRule(true, 'c', 1, 5, "r")] });
        Assert.Equal(["a", "a *:* rwm"], f.Io.WritesTo("devices.deny"));
        Assert.Equal(["c 1:3 rwm", "c 136:* rw", "c 1:5 r"], f.Io.WritesTo("devices.allow"));
    }
}

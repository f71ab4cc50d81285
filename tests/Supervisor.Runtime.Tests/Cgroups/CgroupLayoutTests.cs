using Supervisor.Runtime.Cgroups;

namespace Supervisor.Runtime.Tests.Cgroups;

public class CgroupLayoutTests
{
    // This machine's /proc/self/mountinfo and /proc/self/cgroup (the sandbox puts us in a nested memory cgroup).
    private const string HostMountinfo = """
        23 1 0:21 / / rw,relatime - overlay overlay rw
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
        37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
        38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw

        """;

    private const string HostProcCgroup = """
        9:name=systemd:/
        8:pids:/
        7:blkio:/
        6:freezer:/
        5:devices:/
        4:memory:/process_api/d86450850f5f9aa3cc2b30da04e0dbec
        3:cpuset:/
        2:cpuacct:/
        1:cpu:/
        0::/

        """;

    [Fact]
    public void ThisHost_EveryControllerV1_HugetlbOnUnified_IsHybrid()
    {
        var layout = CgroupLayout.Parse(HostMountinfo, HostProcCgroup, "hugetlb\n");

        Assert.Equal(CgroupMode.Hybrid, layout.Mode);
        foreach (var c in new[] { "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids" })
        {
            Assert.True(layout.IsV1(c), c);
            Assert.False(layout.IsV2(c), c);
            Assert.Equal("/sys/fs/cgroup/" + c, layout.V1[c].Mountpoint);
        }
        Assert.Equal("/sys/fs/cgroup/systemd", layout.V1["name=systemd"].Mountpoint);
        Assert.True(layout.IsV2("hugetlb"));
        Assert.False(layout.IsV1("hugetlb"));
        Assert.Equal("/sys/fs/cgroup/unified", layout.Unified!.Mountpoint);
        Assert.Equal("/process_api/d86450850f5f9aa3cc2b30da04e0dbec", layout.V1["memory"].OwnPath);
        Assert.Equal("/sys/fs/cgroup/memory/process_api/d86450850f5f9aa3cc2b30da04e0dbec", layout.V1["memory"].OwnDirectory);
        Assert.Equal("/sys/fs/cgroup/cpu", layout.V1["cpu"].OwnDirectory);
        Assert.False(layout.IsV1("net_cls"));
        Assert.False(layout.IsV2("net_cls"));
    }

    [Fact]
    public void V1ControllerListedInCgroup2Controllers_StaysV1()
    {
        var layout = CgroupLayout.Parse(HostMountinfo, HostProcCgroup, "memory hugetlb pids\n");
        Assert.True(layout.IsV1("memory"));
        Assert.False(layout.IsV2("memory"));
        Assert.Equal(["hugetlb"], layout.Unified!.Controllers);
    }

    [Fact]
    public void CoMountedAndNamedHierarchies_ShareOneEntry()
    {
        const string mi = """
            30 23 0:26 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
            31 23 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
            32 23 0:28 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
            33 23 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory

            """;
        const string pc = "4:memory:/user\n3:net_cls,net_prio:/\n2:cpu,cpuacct:/a/b\n1:name=systemd:/user.slice\n";
        var layout = CgroupLayout.Parse(mi, pc);

        Assert.Equal(CgroupMode.V1, layout.Mode);
        Assert.Null(layout.Unified);
        Assert.Same(layout.V1["cpu"], layout.V1["cpuacct"]);
        Assert.Equal(["cpu", "cpuacct"], layout.V1["cpu"].Controllers);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct/a/b", layout.V1["cpuacct"].OwnDirectory);
        Assert.Same(layout.V1["net_cls"], layout.V1["net_prio"]);
        Assert.Equal("/sys/fs/cgroup/systemd/user.slice", layout.V1["name=systemd"].OwnDirectory);
    }

    [Fact]
    public void PureV2_ControllersFromCgroupControllers()
    {
        const string mi = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
        var layout = CgroupLayout.Parse(mi, "0::/user.slice/session-1.scope\n", "cpuset cpu io memory hugetlb pids rdma misc\n");

        Assert.Equal(CgroupMode.V2, layout.Mode);
        Assert.Empty(layout.V1);
        Assert.True(layout.IsV2("memory"));
        Assert.True(layout.IsV2("misc"));
        Assert.False(layout.IsV2("freezer"));
        Assert.Equal("/sys/fs/cgroup/user.slice/session-1.scope", layout.Unified!.OwnDirectory);
    }

    [Fact]
    public void BindMountedHierarchy_FirstMountWins_AndMountRootIsSubtracted()
    {
        // Inside a container: the hierarchy root visible at the mountpoint is /docker/x.
        const string mi = """
            40 23 0:30 /docker/x /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory
            41 23 0:30 /docker/x /mnt/again ro - cgroup cgroup rw,memory

            """;
        var layout = CgroupLayout.Parse(mi, "5:memory:/docker/x/inner\n");
        Assert.Equal("/sys/fs/cgroup/memory", layout.V1["memory"].Mountpoint);
        Assert.Equal("/sys/fs/cgroup/memory/inner", layout.V1["memory"].OwnDirectory);
    }

    [Fact]
    public void EscapedMountpoint_IsUnescaped()
    {
        const string mi = "40 23 0:30 / /tmp/cg\\040root/memory rw - cgroup cgroup rw,memory\n";
        var layout = CgroupLayout.Parse(mi, "5:memory:/\n");
        Assert.Equal("/tmp/cg root/memory", layout.V1["memory"].Mountpoint);
    }

    [Fact]
    public void NoCgroupMount_Throws()
    {
        Assert.Throws<InvalidOperationException>(() =>
            CgroupLayout.Parse("23 1 0:21 / / rw - ext4 /dev/sda1 rw\n", "0::/\n"));
    }

    [Fact]
    public void MalformedMountinfo_Throws() =>
        Assert.Throws<FormatException>(() => CgroupLayout.Parse("garbage line\n", "0::/\n"));

    [Fact]
    public void ParseProcCgroup_KeysEveryController()
    {
        var own = CgroupLayout.ParseProcCgroup("3:cpu,cpuacct:/a\n2:name=systemd:/s\n0::/u\n");
        Assert.Equal("/a", own["cpu"]);
        Assert.Equal("/a", own["cpuacct"]);
        Assert.Equal("/s", own["name=systemd"]);
        Assert.Equal("/u", own[""]);
    }

    [Fact]
    public void Detect_ReadsFilesAndCgroup2ControllersFromMountpoint()
    {
        using var f = CgroupFixture.Hybrid();
        var mi = Path.Combine(f.Root, "mountinfo");
        var pc = Path.Combine(f.Root, "cgroup");
        File.WriteAllText(mi, f.Mountinfo);
        File.WriteAllText(pc, f.ProcCgroup);

        var layout = CgroupLayout.Detect(mi, pc);

        Assert.Equal(CgroupMode.Hybrid, layout.Mode);
        Assert.Equal(["hugetlb"], layout.Unified!.Controllers);
        Assert.True(layout.IsV1("cpuacct"));
    }
}

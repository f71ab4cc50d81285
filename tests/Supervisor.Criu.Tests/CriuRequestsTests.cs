using Supervisor.Criu.Rpc;

namespace Supervisor.Criu.Tests;

public class CriuRequestsTests
{
    private static readonly CriuExternalMount[] Mounts =
    [
        new("/data", "/srv/data"),
        new("/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/c1"),
    ];

    [Fact]
    public void Dump_carries_the_target_and_the_flags()
    {
        var options = new CriuOptions
        {
            LeaveRunning = true,
            TcpEstablished = true,
            ExternalUnixConnections = true,
            ShellJob = true,
            FileLocks = true,
            AutoDedup = true,
            ManageCgroupsMode = CriuCgroupMode.Strict,
            External = ["file[18:3]"],
        };
        var target = new CriuDumpTarget(1234, "/bundle/rootfs", 7, 8, Mounts) { FreezeCgroup = "/sys/fs/cgroup/freezer/c1" };

        var req = CriuRequests.Dump(options, target, networkLockIptablesAvailable: false);

        Assert.Equal(criu_req_type.Dump, req.Type);
        var o = req.Opts;
        Assert.Equal(1234, o.Pid);
        Assert.Equal("/bundle/rootfs", o.Root);
        Assert.Equal(7, o.ImagesDirFd);
        Assert.Equal(8, o.WorkDirFd);
        Assert.Equal("dump.log", o.LogFile);
        Assert.Equal(4, o.LogLevel);
        Assert.True(o.NotifyScripts);
        Assert.True(o.ManageCgroups);
        Assert.True(o.LeaveRunning);
        Assert.True(o.TcpEstablished);
        Assert.True(o.ExtUnixSk);
        Assert.True(o.ShellJob);
        Assert.True(o.FileLocks);
        Assert.True(o.AutoDedup);
        Assert.Equal(criu_cg_mode.Strict, o.ManageCgroupsMode);
        Assert.Equal(criu_network_lock_method.Skip, o.NetworkLock);
        Assert.Equal("/sys/fs/cgroup/freezer/c1", o.FreezeCgroup);
        Assert.Equal(["file[18:3]"], o.External);
        // On dump the external mounts are named by their mountpoint on both sides.
        Assert.Equal([("/data", "/data"), ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory")],
            o.ExtMnt.Select(m => (m.Key, m.Val)));
        Assert.False(o.HasRstSibling);
    }

    [Fact]
    public void Dump_without_flags_leaves_criu_defaults_unset()
    {
        var req = CriuRequests.Dump(new CriuOptions(), new CriuDumpTarget(5, "/r", 3, 4, []), networkLockIptablesAvailable: true);
        var o = req.Opts;
        Assert.False(o.HasShellJob);
        Assert.False(o.HasTcpEstablished);
        Assert.False(o.HasManageCgroupsMode);
        Assert.False(o.HasParentImg);
        Assert.False(o.HasFreezeCgroup);
        Assert.False(o.LeaveRunning);
        Assert.Equal(criu_network_lock_method.Iptables, o.NetworkLock);
    }

    [Fact]
    public void Pre_dump_tracks_memory_and_a_later_dump_names_its_parent()
    {
        var pre = CriuRequests.Dump(new CriuOptions { PreDump = true, LeaveRunning = true }, new CriuDumpTarget(5, "/r", 3, 4, []), false);
        Assert.Equal(criu_req_type.PreDump, pre.Type);
        Assert.True(pre.Opts.TrackMem);
        Assert.Equal("pre-dump.log", pre.Opts.LogFile);

        var dump = CriuRequests.Dump(new CriuOptions { ParentImage = "../pre" }, new CriuDumpTarget(5, "/r", 3, 4, []), false);
        Assert.Equal(criu_req_type.Dump, dump.Type);
        Assert.Equal("../pre", dump.Opts.ParentImg);
    }

    [Fact]
    public void Restore_binds_external_mounts_from_their_sources_and_inherits_stdio()
    {
        var target = new CriuRestoreTarget("/run/s/c1/criu-root", 9, 10, Mounts)
        {
            InheritFds = [("pipe:[1234]", 0), ("file[18:3]", 2)],
            CgroupRoots = [("memory", "/c1"), ("cpu,cpuacct", "/c1")],
            OrphanPtsMaster = true,
        };
        var options = new CriuOptions { ManageCgroupsMode = CriuCgroupMode.Ignore, EmptyNamespaces = 0x40000000, NetworkLock = CriuNetworkLock.Nftables };

        var req = CriuRequests.Restore(options, target, networkLockIptablesAvailable: true);

        Assert.Equal(criu_req_type.Restore, req.Type);
        var o = req.Opts;
        Assert.Equal("/run/s/c1/criu-root", o.Root);
        Assert.Equal("restore.log", o.LogFile);
        Assert.True(o.RstSibling);
        Assert.True(o.EvasiveDevices);
        Assert.True(o.OrphanPtsMaster);
        Assert.Equal(0x40000000u, o.EmptyNs);
        Assert.Equal(criu_cg_mode.Ignore, o.ManageCgroupsMode);
        Assert.Equal(criu_network_lock_method.Nftables, o.NetworkLock);
        Assert.Equal([("/data", "/srv/data"), ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/c1")],
            o.ExtMnt.Select(m => (m.Key, m.Val)));
        Assert.Equal([("pipe:[1234]", 0), ("file[18:3]", 2)], o.InheritFd.Select(i => (i.Key, i.Fd)));
        Assert.Equal([("memory", "/c1"), ("cpu,cpuacct", "/c1")], o.CgRoot.Select(c => (c.Ctrl, c.Path)));
    }

    [Fact]
    public void Proc_cgroup_lines_become_cgroup_roots_without_the_cgroup2_line()
    {
        var roots = CriuRequests.ParseProcCgroup("9:name=systemd:/c1\n4:memory:/a/b/c1\n1:cpu,cpuacct:/c1\n0::/c1\n");
        Assert.Equal([("name=systemd", "/c1"), ("memory", "/a/b/c1"), ("cpu,cpuacct", "/c1")], roots);
    }

    [Theory]
    [InlineData("soft", CriuCgroupMode.Soft)]
    [InlineData("full", CriuCgroupMode.Full)]
    [InlineData("strict", CriuCgroupMode.Strict)]
    [InlineData("ignore", CriuCgroupMode.Ignore)]
    [InlineData(null, CriuCgroupMode.Default)]
    public void Cgroup_modes_parse_as_runc_names_them(string? text, CriuCgroupMode expected) =>
        Assert.Equal(expected, CriuCgroupModes.Parse(text));

    [Fact]
    public void An_unknown_cgroup_mode_is_refused() =>
        Assert.Contains("invalid manage cgroups mode", Assert.Throws<ArgumentException>(() => CriuCgroupModes.Parse("hard")).Message);
}

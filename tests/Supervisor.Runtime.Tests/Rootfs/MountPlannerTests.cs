using Supervisor.Linux.Shim;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Rootfs;

namespace Supervisor.Runtime.Tests.Rootfs;

public sealed class MountPlannerTests
{
    private static ContainerConfig Config(params Mount[] mounts) => new()
    {
        Rootfs = "/bundle/rootfs",
        Process = new ProcessConfig { Args = ["/bin/sh"] },
        Mounts = mounts,
        Devices = [new DeviceNode { Path = "/dev/null", Type = 'c', Major = 1, Minor = 3, FileMode = 0x1B6 }],
    };

    [Fact]
    public void Filesystem_mounts_keep_type_flags_and_data_in_order()
    {
        var ops = MountPlanner.Plan(Config(
            new Mount { Destination = "/proc", Type = "proc", Source = "proc", Flags = MountFlags.NoSuid | MountFlags.NoExec | MountFlags.NoDev },
            new Mount { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Flags = MountFlags.NoSuid | MountFlags.StrictAtime, Data = "mode=755,size=65536k" }),
            "/bundle", []);
        var mounts = ops.OfType<ShimMount>().ToList();
        Assert.Equal(2, mounts.Count);
        Assert.Equal(new ShimMount(ShimMountKind.Fs, "proc", "/proc", "proc", MountFlags.NoSuid | MountFlags.NoExec | MountFlags.NoDev, 0, [], "", false),
            mounts[0] with { Propagation = [] });
        Assert.Equal("tmpfs", mounts[1].FsType);
        Assert.Equal("mode=755,size=65536k", mounts[1].Data);
        // Devices come after the mounts (so they land on the /dev tmpfs), links after the devices.
        int devIndex = ops.ToList().FindIndex(o => o is ShimDevice);
        Assert.True(devIndex > ops.ToList().LastIndexOf(mounts[1]));
        Assert.IsType<ShimSymlink>(ops[^1]);
    }

    [Fact]
    public void Device_mode_carries_the_node_type()
    {
        var dev = MountPlanner.Plan(Config(), "/bundle", []).OfType<ShimDevice>().Single();
        Assert.Equal(0x2000u | 0x1B6u, dev.Mode);
        Assert.Equal((1ul, 3ul), (dev.Major, dev.Minor));
    }

    [Fact]
    public void Relative_bind_sources_are_relative_to_the_bundle_and_files_get_file_targets()
    {
        var dir = Directory.CreateTempSubdirectory();
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "hosts"), "x");
            Directory.CreateDirectory(Path.Combine(dir.FullName, "data"));
            var ops = MountPlanner.Plan(Config(
                new Mount { Destination = "/etc/hosts", Type = "bind", Source = "hosts", Flags = MountFlags.Bind | MountFlags.ReadOnly },
                new Mount { Destination = "/data", Type = "bind", Source = "data", Flags = MountFlags.Bind | MountFlags.Rec }),
                dir.FullName, []).OfType<ShimMount>().ToList();
            Assert.Equal(ShimMountKind.Bind, ops[0].Kind);
            Assert.Equal(Path.Combine(dir.FullName, "hosts"), ops[0].Source);
            Assert.True(ops[0].DestinationIsFile);
            Assert.False(ops[1].DestinationIsFile);
            Assert.Equal(MountFlags.Bind | MountFlags.Rec, ops[1].Flags);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void A_v1_cgroup_mount_becomes_a_tmpfs_of_read_only_binds_with_links()
    {
        var sources = new[]
        {
            new CgroupMountSource("memory", "/sys/fs/cgroup/memory/c1", ["memory"]),
            new CgroupMountSource("cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/c1", ["cpu", "cpuacct"]),
        };
        var ops = MountPlanner.Plan(Config(new Mount
        {
            Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup",
            Flags = MountFlags.ReadOnly | MountFlags.NoSuid | MountFlags.NoExec | MountFlags.NoDev,
        }), "/bundle", sources);
        var mounts = ops.OfType<ShimMount>().ToList();
        Assert.Equal("tmpfs", mounts[0].FsType);
        Assert.Equal("/sys/fs/cgroup", mounts[0].Destination);
        Assert.Equal("/sys/fs/cgroup/memory", mounts[1].Destination);
        Assert.Equal("/sys/fs/cgroup/memory/c1", mounts[1].Source);
        Assert.NotEqual(0ul, mounts[1].Flags & MountFlags.ReadOnly);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct", mounts[2].Destination);
        var links = ops.OfType<ShimSymlink>().Where(l => l.LinkPath.StartsWith("/sys/fs/cgroup/")).ToList();
        Assert.Contains(new ShimSymlink("cpu,cpuacct", "/sys/fs/cgroup/cpu"), links);
        Assert.Contains(new ShimSymlink("cpu,cpuacct", "/sys/fs/cgroup/cpuacct"), links);
        // Last comes the read-only remount of the tmpfs itself.
        var remount = mounts[^1];
        Assert.Equal("/sys/fs/cgroup", remount.Destination);
        Assert.NotEqual(0ul, remount.Flags & MountFlags.Remount);
        Assert.NotEqual(0ul, remount.Flags & MountFlags.ReadOnly);
    }

    [Fact]
    public void Ptmx_link_points_into_the_containers_devpts()
    {
        var ops = MountPlanner.Plan(Config(new Mount { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Data = "newinstance,ptmxmode=0666" }), "/bundle", []);
        Assert.Contains(new ShimSymlink("pts/ptmx", "/dev/ptmx"), ops.OfType<ShimSymlink>());
        Assert.Contains(new ShimSymlink("/proc/self/fd", "/dev/fd"), ops.OfType<ShimSymlink>());
    }
}

using Supervisor.Linux.Shim;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Rootfs;

/// <summary>One cgroup hierarchy to expose under the container's cgroup mount.</summary>
/// <param name="Name">Directory name under the mount point, e.g. "memory", "cpu,cpuacct", "systemd".</param>
/// <param name="HostPath">The container's own cgroup directory in that hierarchy, on the host.</param>
/// <param name="Aliases">Extra names that link to <paramref name="Name"/> (e.g. "cpu" and "cpuacct" for "cpu,cpuacct").</param>
public sealed record CgroupMountSource(string Name, string HostPath, IReadOnlyList<string> Aliases);

/// <summary>
/// Turns a container's mounts, devices and /dev links into the ordered rootfs operations the shim runs
/// before the root switch (reference §5.4). Pure: it reads nothing but the host paths of bind sources, so
/// the plan is unit-testable; every destination stays a path *inside* the rootfs, which the shim resolves
/// there with openat2(RESOLVE_IN_ROOT) so that a symlink in the image can never redirect a mount to the host.
/// </summary>
public static class MountPlanner
{
    private const uint S_IFCHR = 0x2000;
    private const uint S_IFBLK = 0x6000;
    private const uint S_IFIFO = 0x1000;

    public static IReadOnlyList<ShimRootfsOp> Plan(
        ContainerConfig config,
        string bundleDir,
        IReadOnlyList<CgroupMountSource> cgroupSources)
    {
        var ops = new List<ShimRootfsOp>();
        foreach (var m in config.Mounts)
        {
            if (m.Type is "cgroup" or "cgroup2")
                PlanCgroupMount(m, cgroupSources, ops);
            else
                ops.Add(ToShimMount(m, bundleDir));
        }

        bool hasDevPts = config.Mounts.Any(m => m.Destination.TrimEnd('/') == "/dev/pts");
        foreach (var d in config.Devices)
            ops.Add(new ShimDevice(d.Path, DeviceMode(d), (ulong)d.Major, (ulong)d.Minor, d.Uid, d.Gid));

        // The /dev links every Linux program expects; with a devpts mount, ptmx must be the one of the
        // container's own devpts instance (newinstance) rather than the host's.
        ops.Add(new ShimSymlink("/proc/self/fd", "/dev/fd"));
        ops.Add(new ShimSymlink("/proc/self/fd/0", "/dev/stdin"));
        ops.Add(new ShimSymlink("/proc/self/fd/1", "/dev/stdout"));
        ops.Add(new ShimSymlink("/proc/self/fd/2", "/dev/stderr"));
        if (hasDevPts)
            ops.Add(new ShimSymlink("pts/ptmx", "/dev/ptmx"));
        return ops;
    }

    internal static ShimMount ToShimMount(Mount m, string bundleDir)
    {
        if (m.IsBind)
        {
            var source = Path.IsPathRooted(m.Source) ? m.Source : Path.GetFullPath(Path.Combine(bundleDir, m.Source));
            // A bind of a file (or device, socket, fifo: File.Exists is true for every non-directory) needs a
            // file to mount on; directories, and sources that do not exist, which then fail in the shim with
            // the source named, get a directory.
            bool isFile = File.Exists(source);
            return new ShimMount(ShimMountKind.Bind, source, m.Destination, "", m.Flags | MountFlags.Bind,
                m.ClearedFlags, m.PropagationFlags, m.Data, isFile);
        }
        var src = string.IsNullOrEmpty(m.Source) ? m.Type : m.Source;
        return new ShimMount(ShimMountKind.Fs, src, m.Destination, m.Type, m.Flags, m.ClearedFlags,
            m.PropagationFlags, m.Data, false);
    }

    /// <summary>
    /// cgroup v1 has no single filesystem to mount: like runc, the mount becomes a tmpfs holding one bind
    /// per hierarchy of the container's own cgroup directories (so the container sees its cgroup as the
    /// root and nothing of its siblings), plus links for co-mounted controllers. A read-only request makes
    /// both the binds and, at the end, the tmpfs itself read-only (CVE-2023-25809: a writable cgroupfs
    /// lets the container write release_agent-style knobs).
    /// </summary>
    private static void PlanCgroupMount(Mount m, IReadOnlyList<CgroupMountSource> sources, List<ShimRootfsOp> ops)
    {
        const ulong hardening = MountFlags.NoSuid | MountFlags.NoExec | MountFlags.NoDev;
        bool ro = (m.Flags & MountFlags.ReadOnly) != 0;
        var dest = m.Destination.TrimEnd('/');
        ops.Add(new ShimMount(ShimMountKind.Fs, "tmpfs", dest, "tmpfs", hardening, 0, [], "mode=755", false));
        foreach (var s in sources)
        {
            ulong flags = MountFlags.Bind | MountFlags.Rec | hardening | (ro ? MountFlags.ReadOnly : 0);
            ops.Add(new ShimMount(ShimMountKind.Bind, s.HostPath, dest + "/" + s.Name, "", flags, 0,
                m.PropagationFlags, "", false));
            foreach (var alias in s.Aliases)
            {
                if (alias != s.Name)
                    ops.Add(new ShimSymlink(s.Name, dest + "/" + alias));
            }
        }
        if (ro)
        {
            ops.Add(new ShimMount(ShimMountKind.Fs, "", dest, "",
                MountFlags.Remount | MountFlags.ReadOnly | hardening, 0, [], "mode=755", false));
        }
    }

    private static uint DeviceMode(DeviceNode d)
    {
        uint type = d.Type switch
        {
            'b' => S_IFBLK,
            'p' => S_IFIFO,
            _ => S_IFCHR,
        };
        return type | (d.FileMode & 0xFFF);
    }
}

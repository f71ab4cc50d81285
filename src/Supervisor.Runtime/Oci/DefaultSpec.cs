using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Oci;

/// <summary>
/// The config.json written by <c>supervisor spec</c>: the same starting point as <c>runc spec</c> (a busybox
/// shell with a terminal), with the hardening defaults of security-anchors H1, H2, H5 and H7.
/// </summary>
public static class DefaultSpec
{
    public const string OciVersion = "1.0.2-dev";

    /// <summary>
    /// Builds the default spec. With <paramref name="rootless"/>, the container gets its own user namespace
    /// in which <paramref name="hostUid"/>/<paramref name="hostGid"/> (the caller's ids) are root.
    /// </summary>
    public static OciSpec Create(bool rootless = false, uint hostUid = 0, uint hostGid = 0)
    {
        var mounts = new List<OciMount>
        {
            new() { Destination = "/proc", Type = "proc", Source = "proc" },
            new() { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            // gid=5 is the tty group; in a rootless container only the caller's gid is mapped, so gid 5
            // does not exist and devpts would refuse the mount.
            new()
            {
                Destination = "/dev/pts", Type = "devpts", Source = "devpts",
                Options = rootless
                    ? ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
                    : ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
            },
            new() { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            new() { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] },
        };
        if (rootless)
        {
            // Without its own network namespace a user namespace may not mount a fresh sysfs, so the
            // host's /sys is bind-mounted read-only instead. The cgroup mount is left out: an unprivileged
            // caller cannot mount cgroupfs and owns no cgroup to show.
            mounts.Add(new() { Destination = "/sys", Type = "none", Source = "/sys", Options = ["rbind", "nosuid", "noexec", "nodev", "ro"] });
        }
        else
        {
            mounts.Add(new() { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["nosuid", "noexec", "nodev", "ro"] });
            mounts.Add(new() { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = ["nosuid", "noexec", "nodev", "relatime", "ro"] });
        }

        List<OciNamespace> namespaces = rootless
            ? [new() { Type = "pid" }, new() { Type = "ipc" }, new() { Type = "uts" }, new() { Type = "mount" }, new() { Type = "cgroup" }, new() { Type = "user" }]
            : [new() { Type = "pid" }, new() { Type = "network" }, new() { Type = "ipc" }, new() { Type = "uts" }, new() { Type = "mount" }, new() { Type = "cgroup" }];

        string[] caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
        return new OciSpec
        {
            OciVersion = OciVersion,
            Root = new OciRoot { Path = "rootfs", Readonly = true },
            Process = new OciProcess
            {
                Terminal = true,
                User = new OciUser { Uid = 0, Gid = 0 },
                Args = ["sh"],
                Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                Cwd = "/",
                Capabilities = new OciCapabilities
                {
                    Bounding = [.. caps],
                    Effective = [.. caps],
                    Permitted = [.. caps],
                    Inheritable = [],
                    Ambient = [],
                },
                Rlimits = [new OciRlimit { Type = "RLIMIT_NOFILE", Hard = 1024, Soft = 1024 }],
                NoNewPrivileges = true,
            },
            Hostname = "supervisor",
            Mounts = mounts,
            Linux = new OciLinux
            {
                // A rootless caller cannot write device-cgroup rules, so it asks for none.
                Resources = rootless ? null : new OciResources { Devices = [new OciDeviceCgroup { Allow = false, Access = "rwm" }] },
                Namespaces = namespaces,
                UidMappings = rootless ? [new OciIdMapping { ContainerId = 0, HostId = hostUid, Size = 1 }] : null,
                GidMappings = rootless ? [new OciIdMapping { ContainerId = 0, HostId = hostGid, Size = 1 }] : null,
                MaskedPaths =
                [
                    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi", "/proc/interrupts",
                    "/sys/devices/virtual/powercap",
                ],
                ReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
                // The default profile (docs/seccomp.md): what Docker's default profile denies for a
                // container without extra capabilities.
                Seccomp = ToOci(Seccomp.DefaultProfile.Create()),
            },
        };
    }

    /// <summary>The internal seccomp model written back in config.json's linux.seccomp shape.</summary>
    public static OciSeccomp ToOci(SeccompConfig c) => new()
    {
        DefaultAction = c.DefaultAction,
        DefaultErrnoRet = c.DefaultErrnoRet,
        Architectures = c.Architectures.Count > 0 ? [.. c.Architectures] : null,
        Flags = c.Flags.Count > 0 ? [.. c.Flags] : null,
        Syscalls =
        [
            .. c.Syscalls.Select(sc => new OciSyscall
            {
                Names = [.. sc.Names],
                Action = sc.Action,
                ErrnoRet = sc.ErrnoRet,
                Args = sc.Args.Count > 0 ? [.. sc.Args.Select(a => new OciSyscallArg { Index = a.Index, Value = a.Value, ValueTwo = a.ValueTwo, Op = a.Op })] : null,
            }),
        ],
    };
}

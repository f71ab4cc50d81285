using Supervisor.Criu.Rpc;

namespace Supervisor.Criu;

/// <summary>A mount that CRIU must not dump or recreate itself: its mountpoint inside the container
/// (the key in the images) and, on restore, the host path to bind there again.</summary>
public sealed record CriuExternalMount(string Key, string Source);

/// <summary>What a dump concerns, as the runtime knows it: the init pid, the container root on the
/// host, the external mounts, and the open directories (fds in our process; CRIU opens them through
/// /proc/&lt;our pid&gt;/fd, it finds our pid from the socket's peer credentials).</summary>
public sealed record CriuDumpTarget(int Pid, string Root, int ImagesDirFd, int WorkDirFd, IReadOnlyList<CriuExternalMount> ExternalMounts)
{
    /// <summary>The freezer cgroup of a paused container: CRIU then uses it instead of freezing the
    /// tasks itself, and leaves it frozen after a leave-running dump, as it found it.</summary>
    public string? FreezeCgroup { get; init; }
}

/// <summary>What a restore needs besides the options: the root (a mount point), the mounts to bind
/// from the host, the stdio to reconnect (key from the images, fd in criu's own table), and the cgroup
/// directories CRIU should treat as the tasks' roots.</summary>
public sealed record CriuRestoreTarget(string Root, int ImagesDirFd, int WorkDirFd, IReadOnlyList<CriuExternalMount> ExternalMounts)
{
    public IReadOnlyList<(string Key, int Fd)> InheritFds { get; init; } = [];
    /// <summary>Controller (null for all) to cgroup path relative to its hierarchy's mount.</summary>
    public IReadOnlyList<(string? Controller, string Path)> CgroupRoots { get; init; } = [];
    /// <summary>Ask CRIU to send the master of a pty whose slave the tree uses (orphan-pts-master).</summary>
    public bool OrphanPtsMaster { get; init; }
}

/// <summary>Builds the criu_req messages; pure, so unit tests check exactly what CRIU is sent.</summary>
internal static class CriuRequests
{
    public const string DumpLog = "dump.log";
    public const string PreDumpLog = "pre-dump.log";
    public const string RestoreLog = "restore.log";

    /// <summary>CRIU's log level 4: everything, which is what makes its logs useful after a failure.</summary>
    private const int LogLevel = 4;

    public static criu_req Dump(CriuOptions options, CriuDumpTarget target, bool networkLockIptablesAvailable)
    {
        var opts = Common(options, target.ImagesDirFd, target.WorkDirFd, networkLockIptablesAvailable);
        opts.Pid = target.Pid;
        opts.Root = target.Root;
        opts.LogFile = options.PreDump ? PreDumpLog : DumpLog;
        if (options.PreDump)
        {
            // Memory tracking makes the next dump write only what changed since this one.
            opts.TrackMem = true;
        }
        else
        {
            opts.LeaveRunning = options.LeaveRunning;
            if (options.AutoDedup)
                opts.AutoDedup = true;
        }
        if (!string.IsNullOrEmpty(options.ParentImage))
            opts.ParentImg = options.ParentImage;
        foreach (var m in target.ExternalMounts)
            opts.ExtMnt.Add(new ext_mount_map { Key = m.Key, Val = m.Key });
        if (target.FreezeCgroup is { Length: > 0 } freezer)
            opts.FreezeCgroup = freezer;
        return new criu_req { Type = options.PreDump ? criu_req_type.PreDump : criu_req_type.Dump, Opts = opts };
    }

    public static criu_req Restore(CriuOptions options, CriuRestoreTarget target, bool networkLockIptablesAvailable)
    {
        var opts = Common(options, target.ImagesDirFd, target.WorkDirFd, networkLockIptablesAvailable);
        opts.Root = target.Root;
        opts.LogFile = RestoreLog;
        // Device files that changed their major:minor between dump and restore are still accepted.
        opts.EvasiveDevices = true;
        // The restored init becomes our child rather than criu's, so that the runtime can wait for it.
        opts.RstSibling = true;
        if (options.LazyPages)
            opts.LazyPages = true;
        if (options.EmptyNamespaces != 0)
            opts.EmptyNs = options.EmptyNamespaces;
        if (target.OrphanPtsMaster)
            opts.OrphanPtsMaster = true;
        foreach (var m in target.ExternalMounts)
            opts.ExtMnt.Add(new ext_mount_map { Key = m.Key, Val = m.Source });
        foreach (var (key, fd) in target.InheritFds)
            opts.InheritFd.Add(new inherit_fd { Key = key, Fd = fd });
        AddCgroupRoots(opts, target.CgroupRoots);
        return new criu_req { Type = criu_req_type.Restore, Opts = opts };
    }

    public static void AddCgroupRoots(criu_opts opts, IEnumerable<(string? Controller, string Path)> roots)
    {
        foreach (var (ctrl, path) in roots)
        {
            var root = new cgroup_root { Path = path };
            if (ctrl is not null)
                root.Ctrl = ctrl;
            opts.CgRoot.Add(root);
        }
    }

    /// <summary>
    /// The cgroup roots of a process from /proc/PID/cgroup ("id:controllers:path" lines): CRIU maps the
    /// dumped tree's cgroups under these. The cgroup2 line is skipped.
    /// </summary>
    public static IReadOnlyList<(string? Controller, string Path)> ParseProcCgroup(string text)
    {
        var result = new List<(string?, string)>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(':', 3);
            // The cgroup2 line ("0::/path") has no controller; a root without one would apply to every
            // controller, so it is left to CRIU's default.
            if (parts.Length != 3 || parts[1].Length == 0)
                continue;
            result.Add((parts[1], parts[2]));
        }
        return result;
    }

    private static criu_opts Common(CriuOptions options, int imagesFd, int workFd, bool iptablesAvailable)
    {
        var opts = new criu_opts
        {
            ImagesDirFd = imagesFd,
            WorkDirFd = workFd,
            LogLevel = LogLevel,
            NotifyScripts = true,
            ManageCgroups = true,
        };
        if (options.ShellJob)
            opts.ShellJob = true;
        if (options.TcpEstablished)
            opts.TcpEstablished = true;
        if (options.ExternalUnixConnections)
            opts.ExtUnixSk = true;
        if (options.FileLocks)
            opts.FileLocks = true;
        if (options.ManageCgroupsMode != CriuCgroupMode.Default)
            opts.ManageCgroupsMode = ToRpc(options.ManageCgroupsMode);
        opts.NetworkLock = options.NetworkLock switch
        {
            CriuNetworkLock.Iptables => criu_network_lock_method.Iptables,
            CriuNetworkLock.Nftables => criu_network_lock_method.Nftables,
            CriuNetworkLock.Skip => criu_network_lock_method.Skip,
            _ => iptablesAvailable ? criu_network_lock_method.Iptables : criu_network_lock_method.Skip,
        };
        foreach (var e in options.External)
            opts.External.Add(e);
        return opts;
    }

    public static criu_cg_mode ToRpc(CriuCgroupMode mode) => mode switch
    {
        CriuCgroupMode.Soft => criu_cg_mode.Soft,
        CriuCgroupMode.Full => criu_cg_mode.Full,
        CriuCgroupMode.Strict => criu_cg_mode.Strict,
        CriuCgroupMode.Ignore => criu_cg_mode.Ignore,
        _ => criu_cg_mode.Default,
    };

    /// <summary>Parses runc's --manage-cgroups-mode values (plus "ignore").</summary>
    public static CriuCgroupMode ParseCgroupMode(string? text) => text switch
    {
        null or "" => CriuCgroupMode.Default,
        "soft" => CriuCgroupMode.Soft,
        "full" => CriuCgroupMode.Full,
        "strict" => CriuCgroupMode.Strict,
        "ignore" => CriuCgroupMode.Ignore,
        _ => throw new ArgumentException($"invalid manage cgroups mode {text}: expected soft, full, strict or ignore"),
    };
}

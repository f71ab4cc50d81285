namespace Supervisor.Criu;

/// <summary>How CRIU treats the cgroups of the dumped tree (its --manage-cgroups modes).</summary>
public enum CriuCgroupMode
{
    /// <summary>Not set: CRIU's own default (soft).</summary>
    Default,
    /// <summary>Restore cgroup properties only for cgroups CRIU creates itself.</summary>
    Soft,
    /// <summary>Restore properties of every cgroup, creating what is missing.</summary>
    Full,
    /// <summary>Like full, but fail when a cgroup already exists with other properties.</summary>
    Strict,
    /// <summary>Neither dump nor restore cgroups: the tasks stay in the cgroups of the restoring CRIU.</summary>
    Ignore,
}

/// <summary>How CRIU keeps the network quiet while it dumps a network namespace.</summary>
public enum CriuNetworkLock
{
    /// <summary>iptables when iptables-restore is on PATH, otherwise no lock (fine without TCP connections).</summary>
    Auto,
    Iptables,
    Nftables,
    Skip,
}

/// <summary>
/// Checkpoint and restore options (libcontainer's CriuOpts, reference §1.9, extended with what newer
/// runc passes). Paths are host paths; the image and work directories are created when missing.
/// </summary>
public sealed record CriuOptions
{
    /// <summary>Where the images go (dump) or come from (restore); default &lt;state dir&gt;/criu.image.</summary>
    public string? ImagesDirectory { get; init; }
    /// <summary>Where CRIU writes its logs (dump.log, restore.log); default: the images directory, so the logs stay with the images.</summary>
    public string? WorkDirectory { get; init; }
    /// <summary>The images of a previous (pre-)dump, for an incremental dump; relative to ImagesDirectory or absolute.</summary>
    public string? ParentImage { get; init; }
    /// <summary>Dump only the memory, leaving the container running, as the base of a later incremental dump.</summary>
    public bool PreDump { get; init; }
    public bool LeaveRunning { get; init; }
    public bool TcpEstablished { get; init; }
    public bool ExternalUnixConnections { get; init; }
    public bool ShellJob { get; init; }
    public bool FileLocks { get; init; }
    public CriuCgroupMode ManageCgroupsMode { get; init; }
    public bool AutoDedup { get; init; }
    /// <summary>Restore memory on demand; needs userfaultfd support (checked with FEATURE_CHECK first).</summary>
    public bool LazyPages { get; init; }
    /// <summary>CLONE_NEW* flags of namespaces CRIU creates empty on restore instead of restoring (only network is supported by CRIU).</summary>
    public uint EmptyNamespaces { get; init; }
    /// <summary>Extra CRIU "external" resources, as its --external syntax (e.g. "mnt[/data]:data").</summary>
    public IReadOnlyList<string> External { get; init; } = [];
    public CriuNetworkLock NetworkLock { get; init; }
}

public static class CriuCgroupModes
{
    /// <summary>Parses runc's --manage-cgroups-mode values (soft, full, strict) plus "ignore".</summary>
    public static CriuCgroupMode Parse(string? text) => CriuRequests.ParseCgroupMode(text);
}

namespace Supervisor.Linux.Shim;

/// <summary>
/// The managed form of the request the shim receives (native/include/supervisor_shim.h). The runtime fills
/// it from a validated container config; <c>ShimRequestEncoder</c> flattens it into the blob. Everything
/// here is already resolved: numeric ids, capability bitmasks, MS_* flags, paths inside the rootfs.
/// </summary>
public sealed class ShimRequest
{
    public ShimMode Mode { get; set; } = ShimMode.Init;
    public List<string> Args { get; } = [];
    public List<string> Env { get; } = [];
    public string Cwd { get; set; } = "/";
    /// <summary>Absolute host path of the rootfs (init mode).</summary>
    public string? Rootfs { get; set; }
    /// <summary>Absolute host path of the container's state directory (exit.json, shim.sock).</summary>
    public string? StateDir { get; set; }
    public string? Hostname { get; set; }
    public string? Domainname { get; set; }
    public ShimFlags Flags { get; set; }
    /// <summary>Namespaces in join order; Path null or empty = create.</summary>
    public List<ShimNamespace> Namespaces { get; } = [];
    public ShimUser User { get; set; } = new(0, 0, null, []);
    /// <summary>Null = leave the capability sets as they are.</summary>
    public ShimCaps? Caps { get; set; }
    public List<ShimRlimit> Rlimits { get; } = [];
    public int? OomScoreAdj { get; set; }
    /// <summary>sysctl as (path under /proc/sys, value), e.g. ("net/ipv4/ip_forward", "1").</summary>
    public List<(string Key, string Value)> Sysctls { get; } = [];
    /// <summary>Rootfs operations executed in order before the root switch.</summary>
    public List<ShimRootfsOp> RootfsOps { get; } = [];
    public List<string> MaskPaths { get; } = [];
    public List<string> ReadonlyPaths { get; } = [];
    /// <summary>MS_* flags for "/"; 0 = MS_SLAVE|MS_REC.</summary>
    public ulong RootPropagation { get; set; }
    /// <summary>A compiled seccomp filter (struct sock_filter array, 8 bytes per instruction).</summary>
    public ShimSeccomp? Seccomp { get; set; }
    public uint PreserveFds { get; set; }
    public int ParentDeathSignal { get; set; }
    public (ushort Rows, ushort Cols)? ConsoleSize { get; set; }
}

public enum ShimMode : ushort
{
    Init = 1,
    Exec = 2,
    /// <summary>Run criu swrk (Args/Env) with its RPC socket as the one preserved fd and monitor the init it restores.</summary>
    Restore = 3,
}

[Flags]
public enum ShimFlags : ulong
{
    None = 0,
    NoPivot = 1ul << 0,
    ReadonlyRootfs = 1ul << 1,
    NoNewPrivs = 1ul << 2,
    WaitStart = 1ul << 3,
    Terminal = 1ul << 4,
    NewUserns = 1ul << 5,
    SetupRootfs = 1ul << 6,
    LoopbackUp = 1ul << 7,
    NewCgroupns = 1ul << 8,
    DevBind = 1ul << 9,
}

public sealed record ShimNamespace(ulong CloneFlag, string? Path);

public sealed record ShimUser(uint Uid, uint Gid, uint? Umask, IReadOnlyList<uint> AdditionalGids);

public sealed record ShimCaps(ulong Bounding, ulong Effective, ulong Permitted, ulong Inheritable, ulong Ambient);

/// <summary>An rlimit by its RLIMIT_* number.</summary>
public sealed record ShimRlimit(uint Resource, ulong Soft, ulong Hard);

public sealed record ShimSeccomp(uint Flags, byte[] Program);

/// <summary>One step of the rootfs setup; the shim runs them in list order.</summary>
public abstract record ShimRootfsOp;

/// <summary>
/// mount(2) of a filesystem (Kind = Fs) or a bind of a host path (Kind = Bind). Destination is inside the
/// rootfs and is resolved there by the shim, never on the host.
/// </summary>
public sealed record ShimMount(
    ShimMountKind Kind,
    string Source,
    string Destination,
    string FsType,
    ulong Flags,
    ulong ClearFlags,
    IReadOnlyList<ulong> Propagation,
    string Data,
    bool DestinationIsFile) : ShimRootfsOp;

public enum ShimMountKind : uint
{
    Fs = 1,
    Bind = 2,
}

/// <summary>A device node: Mode carries S_IFCHR/S_IFBLK/S_IFIFO plus the permission bits.</summary>
public sealed record ShimDevice(string Path, uint Mode, ulong Major, ulong Minor, uint Uid, uint Gid) : ShimRootfsOp;

public sealed record ShimSymlink(string Target, string LinkPath) : ShimRootfsOp;

public sealed record ShimMkdir(string Path, uint Mode) : ShimRootfsOp;

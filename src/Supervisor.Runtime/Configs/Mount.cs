namespace Supervisor.Runtime.Configs;

/// <summary>
/// A mount of the container, with its OCI options already split into kernel flags and data (reference
/// §2.2). <see cref="Type"/> is the filesystem type ("proc", "tmpfs", "cgroup", ...) or "bind".
/// </summary>
public sealed record Mount
{
    /// <summary>Absolute destination inside the container.</summary>
    public required string Destination { get; init; }

    /// <summary>Host path for binds; the fs "device" name otherwise (e.g. "proc", "tmpfs").</summary>
    public string Source { get; init; } = "";

    /// <summary>Filesystem type, or "bind" for bind mounts.</summary>
    public required string Type { get; init; }

    /// <summary>MS_* flags for mount(2). MS_BIND and MS_REC are set for bind/rbind.</summary>
    public ulong Flags { get; init; }

    /// <summary>
    /// Flags that must be cleared by the remount of a bind mount (e.g. "rw" after "ro" or "suid"): binds
    /// inherit the flags of their source, so a later remount must know what the user turned off.
    /// </summary>
    public ulong ClearedFlags { get; init; }

    /// <summary>Propagation changes applied after the mount, in order (MS_PRIVATE, MS_SHARED|MS_REC, ...).</summary>
    public IReadOnlyList<ulong> PropagationFlags { get; init; } = [];

    /// <summary>Filesystem-specific data, e.g. "mode=755,size=65536k".</summary>
    public string Data { get; init; } = "";

    public bool IsBind => Type == "bind" || (Flags & MountFlags.Bind) != 0;
}

/// <summary>MS_* values from &lt;sys/mount.h&gt;, kept here so configs stay free of P/Invoke.</summary>
public static class MountFlags
{
    public const ulong ReadOnly = 0x1;
    public const ulong NoSuid = 0x2;
    public const ulong NoDev = 0x4;
    public const ulong NoExec = 0x8;
    public const ulong Synchronous = 0x10;
    public const ulong Remount = 0x20;
    public const ulong Mandlock = 0x40;
    public const ulong DirSync = 0x80;
    public const ulong NoSymFollow = 0x100;
    public const ulong NoAtime = 0x400;
    public const ulong NoDirAtime = 0x800;
    public const ulong Bind = 0x1000;
    public const ulong Move = 0x2000;
    public const ulong Rec = 0x4000;
    public const ulong Silent = 0x8000;
    public const ulong Unbindable = 0x20000;
    public const ulong Private = 0x40000;
    public const ulong Slave = 0x80000;
    public const ulong Shared = 0x100000;
    public const ulong RelAtime = 0x200000;
    public const ulong StrictAtime = 0x1000000;
    public const ulong LazyTime = 0x2000000;

    public const ulong PropagationMask = Unbindable | Private | Slave | Shared;
}

/// <summary>A device node to create in the container's /dev (reference §2.2 Device).</summary>
public sealed record DeviceNode
{
    /// <summary>Absolute path inside the container, e.g. /dev/null.</summary>
    public required string Path { get; init; }

    /// <summary>'c' (char), 'b' (block), 'u' (unbuffered char) or 'p' (fifo).</summary>
    public char Type { get; init; } = 'c';

    public long Major { get; init; }
    public long Minor { get; init; }

    /// <summary>Permission bits of the node (e.g. 0666).</summary>
    public uint FileMode { get; init; } = 0x1B6;

    public uint Uid { get; init; }
    public uint Gid { get; init; }
}

namespace Supervisor.Runtime.Configs;

/// <summary>The namespace kinds a container can create or join.</summary>
public enum NamespaceType
{
    Mount,
    Uts,
    Ipc,
    Pid,
    Network,
    User,
    Cgroup,
    Time,
}

/// <summary>A namespace that is created (Path null) or joined (Path = an nsfs file such as /proc/123/ns/net).</summary>
public sealed record NamespaceConfig(NamespaceType Type, string? Path = null);

/// <summary>One line of a uid_map or gid_map.</summary>
public sealed record IdMap(uint ContainerId, uint HostId, uint Size);

public static class NamespaceTypes
{
    /// <summary>The OCI name of each namespace (linux.namespaces[].type).</summary>
    public static string OciName(this NamespaceType t) => t switch
    {
        NamespaceType.Mount => "mount",
        NamespaceType.Uts => "uts",
        NamespaceType.Ipc => "ipc",
        NamespaceType.Pid => "pid",
        NamespaceType.Network => "network",
        NamespaceType.User => "user",
        NamespaceType.Cgroup => "cgroup",
        NamespaceType.Time => "time",
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    /// <summary>The file under /proc/PID/ns for each namespace.</summary>
    public static string ProcFile(this NamespaceType t) => t switch
    {
        NamespaceType.Mount => "mnt",
        NamespaceType.Uts => "uts",
        NamespaceType.Ipc => "ipc",
        NamespaceType.Pid => "pid",
        NamespaceType.Network => "net",
        NamespaceType.User => "user",
        NamespaceType.Cgroup => "cgroup",
        NamespaceType.Time => "time",
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    public static bool TryParseOci(string name, out NamespaceType type)
    {
        switch (name)
        {
            case "mount": type = NamespaceType.Mount; return true;
            case "uts": type = NamespaceType.Uts; return true;
            case "ipc": type = NamespaceType.Ipc; return true;
            case "pid": type = NamespaceType.Pid; return true;
            case "network": type = NamespaceType.Network; return true;
            case "user": type = NamespaceType.User; return true;
            case "cgroup": type = NamespaceType.Cgroup; return true;
            case "time": type = NamespaceType.Time; return true;
            default: type = default; return false;
        }
    }

    /// <summary>CLONE_NEW* flag of each namespace.</summary>
    public static ulong CloneFlag(this NamespaceType t) => t switch
    {
        NamespaceType.Mount => 0x00020000,
        NamespaceType.Uts => 0x04000000,
        NamespaceType.Ipc => 0x08000000,
        NamespaceType.Pid => 0x20000000,
        NamespaceType.Network => 0x40000000,
        NamespaceType.User => 0x10000000,
        NamespaceType.Cgroup => 0x02000000,
        NamespaceType.Time => 0x00000080,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    /// <summary>
    /// The order in which namespaces are joined with setns. The user namespace comes first so that the
    /// others, which it owns, can be joined with the capabilities it grants (runc's later fix of the 2015
    /// ordering, reference §8.13). The mount namespace comes last because joining it changes how any
    /// remaining nsfs path would resolve.
    /// </summary>
    public static readonly IReadOnlyList<NamespaceType> JoinOrder =
    [
        NamespaceType.User, NamespaceType.Ipc, NamespaceType.Uts, NamespaceType.Network,
        NamespaceType.Pid, NamespaceType.Cgroup, NamespaceType.Time, NamespaceType.Mount,
    ];
}

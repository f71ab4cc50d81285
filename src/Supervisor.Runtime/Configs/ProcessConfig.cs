namespace Supervisor.Runtime.Configs;

/// <summary>
/// A process to run in the container: its init, or one started later with exec (the OCI process object,
/// reference §1.5). The user is already resolved to numbers by the time the shim sees it.
/// </summary>
public sealed record ProcessConfig
{
    public IReadOnlyList<string> Args { get; init; } = [];
    /// <summary>KEY=VALUE entries. Duplicate keys: the last one wins.</summary>
    public IReadOnlyList<string> Env { get; init; } = [];
    public string Cwd { get; init; } = "/";
    public bool Terminal { get; init; }
    public ConsoleSize? ConsoleSize { get; init; }
    public UserConfig User { get; init; } = new();
    public CapabilitySet? Capabilities { get; init; }
    public IReadOnlyList<Rlimit> Rlimits { get; init; } = [];
    public bool NoNewPrivileges { get; init; }
    public int? OomScoreAdj { get; init; }
    public string? ApparmorProfile { get; init; }
    public string? SelinuxLabel { get; init; }
}

public sealed record ConsoleSize(ushort Height, ushort Width);

public sealed record UserConfig
{
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public uint? Umask { get; init; }
    public IReadOnlyList<uint> AdditionalGids { get; init; } = [];
    /// <summary>A "user[:group]" spec still to resolve against the rootfs's /etc/passwd and /etc/group.</summary>
    public string? Username { get; init; }
}

/// <summary>The five capability sets, as capability names ("CAP_CHOWN", ...).</summary>
public sealed record CapabilitySet
{
    public IReadOnlyList<string> Bounding { get; init; } = [];
    public IReadOnlyList<string> Effective { get; init; } = [];
    public IReadOnlyList<string> Inheritable { get; init; } = [];
    public IReadOnlyList<string> Permitted { get; init; } = [];
    public IReadOnlyList<string> Ambient { get; init; } = [];
}

/// <summary>A resource limit: Type is the OCI name ("RLIMIT_NOFILE").</summary>
public sealed record Rlimit(string Type, ulong Hard, ulong Soft);

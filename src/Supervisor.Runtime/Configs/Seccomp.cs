namespace Supervisor.Runtime.Configs;

/// <summary>OCI linux.seccomp (actions, architectures and rules by syscall name).</summary>
public sealed record SeccompConfig
{
    public required string DefaultAction { get; init; }
    public uint? DefaultErrnoRet { get; init; }
    public IReadOnlyList<string> Architectures { get; init; } = [];
    public IReadOnlyList<string> Flags { get; init; } = [];
    public string? ListenerPath { get; init; }
    public string? ListenerMetadata { get; init; }
    public IReadOnlyList<SeccompSyscall> Syscalls { get; init; } = [];
}

public sealed record SeccompSyscall
{
    public required IReadOnlyList<string> Names { get; init; }
    public required string Action { get; init; }
    public uint? ErrnoRet { get; init; }
    public IReadOnlyList<SeccompArg> Args { get; init; } = [];
}

public sealed record SeccompArg(uint Index, ulong Value, ulong ValueTwo, string Op);

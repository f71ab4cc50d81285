namespace Supervisor.Runtime.Rlimits;

/// <summary>RLIMIT_* resource numbers (asm-generic/resource.h, which x86_64 and arm64 use).</summary>
public static class RlimitNames
{
    private static readonly string[] Names =
    [
        "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC",
        "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    ];

    /// <summary>RLIM_INFINITY: the value the kernel reads as "unlimited".</summary>
    public const ulong Infinity = ulong.MaxValue;

    public static IReadOnlyList<string> All => Names;

    /// <summary>Parses an OCI rlimit type ("RLIMIT_NOFILE") to its resource number.</summary>
    public static bool TryParse(string name, out int resource)
    {
        resource = Array.IndexOf(Names, name);
        return resource >= 0;
    }

    public static int Parse(string name) =>
        TryParse(name, out var r) ? r : throw new FormatException($"unknown rlimit type \"{name}\"");

    public static string? GetName(int resource) => resource >= 0 && resource < Names.Length ? Names[resource] : null;
}

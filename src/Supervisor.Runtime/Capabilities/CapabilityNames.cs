using System.Globalization;

namespace Supervisor.Runtime.Capabilities;

/// <summary>Linux capability names and their bit numbers (linux/capability.h).</summary>
public static class CapabilityNames
{
    /// <summary>The highest capability this table knows (CAP_CHECKPOINT_RESTORE, Linux 5.9).</summary>
    public const int KnownLast = 40;

    private static readonly string[] Names =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    private static readonly Dictionary<string, int> ByName =
        Names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);

    /// <summary>Every known name, in bit order.</summary>
    public static IReadOnlyList<string> All => Names;

    /// <summary>Exact, upper-case "CAP_" names only, as the runtime-spec writes them.</summary>
    public static bool TryGetNumber(string name, out int number) => ByName.TryGetValue(name, out number);

    public static string? GetName(int number) => number >= 0 && number < Names.Length ? Names[number] : null;

    /// <summary>The bit mask of the named capabilities; names not in the table are returned in <paramref name="unknown"/>.</summary>
    public static ulong ToMask(IEnumerable<string> names, out IReadOnlyList<string> unknown)
    {
        ulong mask = 0;
        List<string>? bad = null;
        foreach (var name in names)
        {
            if (ByName.TryGetValue(name, out var n)) mask |= 1UL << n;
            else (bad ??= []).Add(name);
        }
        unknown = bad ?? (IReadOnlyList<string>)[];
        return mask;
    }

    /// <summary>
    /// The running kernel's highest capability (/proc/sys/kernel/cap_last_cap); <see cref="KnownLast"/> when
    /// the file cannot be read. Capabilities above it cannot be raised or dropped on this kernel.
    /// </summary>
    public static int LastCap() => LastCap("/proc/sys/kernel/cap_last_cap");

    internal static int LastCap(string procFile)
    {
        try
        {
            var text = File.ReadAllText(procFile).Trim();
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 0 && n < 64)
                return n;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return KnownLast;
    }
}

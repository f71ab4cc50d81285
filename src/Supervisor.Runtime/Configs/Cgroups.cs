namespace Supervisor.Runtime.Configs;

/// <summary>Where the container's cgroups live and what limits they carry.</summary>
public sealed record CgroupConfig
{
    /// <summary>
    /// OCI linux.cgroupsPath. Absolute paths are taken from the root of every hierarchy; relative paths are
    /// nested under the supervisor's own cgroup. Null means "named after the container id".
    /// </summary>
    public string? Path { get; init; }

    public Resources Resources { get; init; } = new();
}

/// <summary>OCI linux.resources, in libcontainer's Cgroup field set (reference §2.4).</summary>
public sealed record Resources
{
    public MemoryResources? Memory { get; init; }
    public CpuResources? Cpu { get; init; }
    public PidsResources? Pids { get; init; }
    public BlockIoResources? BlockIo { get; init; }
    public IReadOnlyList<HugepageLimit> HugepageLimits { get; init; } = [];
    public NetworkResources? Network { get; init; }

    /// <summary>Device cgroup rules in order; the converter starts them with a deny-all rule.</summary>
    public IReadOnlyList<DeviceRule> Devices { get; init; } = [];

    /// <summary>Raw cgroup v2 files (linux.resources.unified).</summary>
    public IReadOnlyDictionary<string, string> Unified { get; init; } = new Dictionary<string, string>();
}

public sealed record MemoryResources
{
    /// <summary>Hard limit in bytes; -1 = unlimited.</summary>
    public long? Limit { get; init; }
    /// <summary>Soft limit (v1 memory.soft_limit_in_bytes, v2 memory.low).</summary>
    public long? Reservation { get; init; }
    /// <summary>Memory + swap limit (v1 memsw); -1 = unlimited.</summary>
    public long? Swap { get; init; }
    public long? Kernel { get; init; }
    public long? KernelTcp { get; init; }
    /// <summary>0..100, or null to leave it alone.</summary>
    public ulong? Swappiness { get; init; }
    public bool? DisableOomKiller { get; init; }
    public bool? UseHierarchy { get; init; }
    public bool? CheckBeforeUpdate { get; init; }
}

public sealed record CpuResources
{
    public ulong? Shares { get; init; }
    /// <summary>CFS quota in µs per period; -1 = unlimited.</summary>
    public long? Quota { get; init; }
    public ulong? Period { get; init; }
    public ulong? Burst { get; init; }
    public long? RealtimeRuntime { get; init; }
    public ulong? RealtimePeriod { get; init; }
    /// <summary>cpuset.cpus, e.g. "0-1".</summary>
    public string? Cpus { get; init; }
    /// <summary>cpuset.mems, e.g. "0".</summary>
    public string? Mems { get; init; }
    public long? Idle { get; init; }
}

public sealed record PidsResources
{
    /// <summary>Maximum number of tasks; 0 or less means unlimited ("max").</summary>
    public long Limit { get; init; }
}

public sealed record BlockIoResources
{
    public ushort? Weight { get; init; }
    public ushort? LeafWeight { get; init; }
    public IReadOnlyList<WeightDevice> WeightDevices { get; init; } = [];
    public IReadOnlyList<ThrottleDevice> ThrottleReadBpsDevices { get; init; } = [];
    public IReadOnlyList<ThrottleDevice> ThrottleWriteBpsDevices { get; init; } = [];
    public IReadOnlyList<ThrottleDevice> ThrottleReadIopsDevices { get; init; } = [];
    public IReadOnlyList<ThrottleDevice> ThrottleWriteIopsDevices { get; init; } = [];
}

public sealed record WeightDevice(long Major, long Minor, ushort? Weight, ushort? LeafWeight);

public sealed record ThrottleDevice(long Major, long Minor, ulong Rate);

/// <summary>A hugetlb limit; Pagesize is in the kernel's file naming ("2MB", "1GB").</summary>
public sealed record HugepageLimit(string Pagesize, ulong Limit);

public sealed record NetworkResources
{
    public uint? ClassId { get; init; }
    public IReadOnlyList<InterfacePriority> Priorities { get; init; } = [];
}

public sealed record InterfacePriority(string Name, uint Priority);

/// <summary>
/// One device cgroup rule. Type is 'a', 'c' or 'b'; Major/Minor null mean the wildcard '*'. Access is a
/// subset of "rwm".
/// </summary>
public sealed record DeviceRule(bool Allow, char Type, long? Major, long? Minor, string Access)
{
    /// <summary>The v1 devices.allow / devices.deny line, e.g. "c 1:3 rwm" or "a *:* rwm".</summary>
    public string ToCgroupString() =>
        Type == 'a' ? $"a *:* {Access}" : $"{Type} {(Major is { } ma ? ma.ToString() : "*")}:{(Minor is { } mi ? mi.ToString() : "*")} {Access}";
}

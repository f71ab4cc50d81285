namespace Supervisor.Runtime.Cgroups;

/// <summary>
/// A cgroup's resource usage in libcontainer's Stats field set. Values are in the kernel's units converted the
/// way runc converts them: CPU times in nanoseconds, memory in bytes. Unlimited limits keep the kernel's value
/// (v1 reports 9223372036854771712; cgroup v2 "max" reads as <see cref="ulong.MaxValue"/>).
/// </summary>
public sealed class CgroupStats
{
    public CpuStats Cpu { get; set; } = new();
    public CpusetStats Cpuset { get; set; } = new();
    public MemoryStats Memory { get; set; } = new();
    public PidsStats Pids { get; set; } = new();
    public BlkioStats Blkio { get; set; } = new();

    /// <summary>Per page size ("2MB", "1GB").</summary>
    public Dictionary<string, HugetlbStats> Hugetlb { get; set; } = new(StringComparer.Ordinal);
}

public sealed class CpuStats
{
    public CpuUsage Usage { get; set; } = new();
    public ThrottlingData Throttling { get; set; } = new();
}

public sealed class CpuUsage
{
    /// <summary>Total CPU time consumed, ns (v1 cpuacct.usage, v2 cpu.stat usage_usec).</summary>
    public ulong Total { get; set; }
    /// <summary>Per-CPU time, ns (cpuacct.usage_percpu); empty on v2.</summary>
    public List<ulong> PerCpu { get; set; } = [];
    /// <summary>Per-CPU kernel time, ns (cpuacct.usage_percpu_sys) where the kernel has it.</summary>
    public List<ulong> PerCpuKernel { get; set; } = [];
    /// <summary>Per-CPU user time, ns (cpuacct.usage_percpu_user) where the kernel has it.</summary>
    public List<ulong> PerCpuUser { get; set; } = [];
    /// <summary>Kernel-mode time, ns (cpuacct.stat "system" ticks, v2 system_usec).</summary>
    public ulong Kernel { get; set; }
    /// <summary>User-mode time, ns (cpuacct.stat "user" ticks, v2 user_usec).</summary>
    public ulong User { get; set; }
}

public sealed class ThrottlingData
{
    public ulong Periods { get; set; }
    public ulong ThrottledPeriods { get; set; }
    /// <summary>ns.</summary>
    public ulong ThrottledTime { get; set; }
}

public sealed class CpusetStats
{
    public List<ulong> Cpus { get; set; } = [];
    public List<ulong> Mems { get; set; } = [];
    public ulong CpuExclusive { get; set; }
    public ulong MemHardwall { get; set; }
    public ulong MemExclusive { get; set; }
    public ulong MemoryMigrate { get; set; }
    public ulong MemorySpreadPage { get; set; }
    public ulong MemorySpreadSlab { get; set; }
    public ulong MemoryPressure { get; set; }
    public ulong SchedLoadBalance { get; set; }
    public long SchedRelaxDomainLevel { get; set; }
}

/// <summary>Usage, peak, failure count and limit of one memory counter.</summary>
public sealed class MemoryData
{
    public ulong Usage { get; set; }
    public ulong MaxUsage { get; set; }
    public ulong Failcnt { get; set; }
    public ulong Limit { get; set; }
}

public sealed class MemoryStats
{
    /// <summary>Page cache: memory.stat "cache" (v1) or "file" (v2).</summary>
    public ulong Cache { get; set; }
    public MemoryData Usage { get; set; } = new();
    /// <summary>Memory plus swap, as v1 memsw counts it (v2: swap.current + memory.current).</summary>
    public MemoryData Swap { get; set; } = new();
    public MemoryData Kernel { get; set; } = new();
    public MemoryData KernelTcp { get; set; } = new();
    /// <summary>Every "key value" line of memory.stat.</summary>
    public Dictionary<string, ulong> Raw { get; set; } = new(StringComparer.Ordinal);
    public bool UseHierarchy { get; set; }
}

public sealed class PidsStats
{
    public ulong Current { get; set; }
    /// <summary>0 when unlimited ("max").</summary>
    public ulong Limit { get; set; }
}

/// <summary>One line of a blkio file: "major:minor Op value" (Op empty for files without one).</summary>
public sealed record BlkioStatEntry(ulong Major, ulong Minor, string Op, ulong Value);

public sealed class BlkioStats
{
    public List<BlkioStatEntry> IoServiceBytesRecursive { get; set; } = [];
    public List<BlkioStatEntry> IoServicedRecursive { get; set; } = [];
    public List<BlkioStatEntry> IoQueuedRecursive { get; set; } = [];
    public List<BlkioStatEntry> IoServiceTimeRecursive { get; set; } = [];
    public List<BlkioStatEntry> IoWaitTimeRecursive { get; set; } = [];
    public List<BlkioStatEntry> IoMergedRecursive { get; set; } = [];
    public List<BlkioStatEntry> IoTimeRecursive { get; set; } = [];
    public List<BlkioStatEntry> SectorsRecursive { get; set; } = [];
}

public sealed class HugetlbStats
{
    public ulong Usage { get; set; }
    /// <summary>Peak usage (v1 max_usage_in_bytes; v2 has no peak and reports 0).</summary>
    public ulong MaxUsage { get; set; }
    /// <summary>Allocation failures (v1 failcnt, v2 hugetlb.&lt;size&gt;.events "max").</summary>
    public ulong Failcnt { get; set; }
    /// <summary>The limit (v1 limit_in_bytes, v2 .max).</summary>
    public ulong Limit { get; set; }
}

/// <summary>A network interface's counters from the container's point of view (collected by the network code).</summary>
public sealed record NetworkInterfaceStats(
    string Name, ulong RxBytes, ulong RxPackets, ulong RxErrors, ulong RxDropped,
    ulong TxBytes, ulong TxPackets, ulong TxErrors, ulong TxDropped);

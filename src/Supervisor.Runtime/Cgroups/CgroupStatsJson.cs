using System.Text.Json;
using System.Text.Json.Serialization;

namespace Supervisor.Runtime.Cgroups;

/// <summary>
/// runc's <c>events</c> output: one JSON object per line, <c>{"type":"stats","id":..,"data":{..}}</c>, with
/// runc's keys and its omit-when-zero rules (Go's omitempty), so tools that read runc's stream read ours.
/// Serialization is source-generated (the CLI is NativeAOT).
/// </summary>
public static class CgroupStatsJson
{
    /// <summary>A "stats" event line (no trailing newline).</summary>
    public static string ToEventJson(string id, CgroupStats s, IReadOnlyList<NetworkInterfaceStats>? net) =>
        JsonSerializer.Serialize(new RuncEvent { Type = "stats", Id = id, Data = ToRunc(s, net) }, RuncEventsJsonContext.Default.RuncEvent);

    /// <summary>An "oom" event line: runc sends it without data.</summary>
    public static string ToOomEventJson(string id) =>
        JsonSerializer.Serialize(new RuncEvent { Type = "oom", Id = id }, RuncEventsJsonContext.Default.RuncEvent);

    /// <summary>The stats in runc's types.Stats shape.</summary>
    public static RuncStats ToRunc(CgroupStats s, IReadOnlyList<NetworkInterfaceStats>? net) => new()
    {
        Cpu = new RuncCpu
        {
            Usage = new RuncCpuUsage
            {
                Total = s.Cpu.Usage.Total,
                Percpu = NullIfEmpty(s.Cpu.Usage.PerCpu),
                PercpuKernel = NullIfEmpty(s.Cpu.Usage.PerCpuKernel),
                PercpuUser = NullIfEmpty(s.Cpu.Usage.PerCpuUser),
                Kernel = s.Cpu.Usage.Kernel,
                User = s.Cpu.Usage.User,
            },
            Throttling = new RuncThrottling
            {
                Periods = s.Cpu.Throttling.Periods,
                ThrottledPeriods = s.Cpu.Throttling.ThrottledPeriods,
                ThrottledTime = s.Cpu.Throttling.ThrottledTime,
            },
        },
        Cpuset = new RuncCpuset
        {
            Cpus = NullIfEmpty(s.Cpuset.Cpus),
            CpuExclusive = s.Cpuset.CpuExclusive,
            Mems = NullIfEmpty(s.Cpuset.Mems),
            MemHardwall = s.Cpuset.MemHardwall,
            MemExclusive = s.Cpuset.MemExclusive,
            MemoryMigrate = s.Cpuset.MemoryMigrate,
            MemorySpreadPage = s.Cpuset.MemorySpreadPage,
            MemorySpreadSlab = s.Cpuset.MemorySpreadSlab,
            MemoryPressure = s.Cpuset.MemoryPressure,
            SchedLoadBalance = s.Cpuset.SchedLoadBalance,
            SchedRelaxDomainLevel = s.Cpuset.SchedRelaxDomainLevel,
        },
        Memory = new RuncMemory
        {
            Cache = s.Memory.Cache,
            Usage = Entry(s.Memory.Usage),
            Swap = Entry(s.Memory.Swap),
            Kernel = Entry(s.Memory.Kernel),
            KernelTcp = Entry(s.Memory.KernelTcp),
            // Go marshals maps with sorted keys.
            Raw = s.Memory.Raw.Count == 0 ? null : s.Memory.Raw.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(kv => kv.Key, kv => kv.Value),
        },
        Pids = new RuncPids { Current = s.Pids.Current, Limit = s.Pids.Limit },
        Blkio = new RuncBlkio
        {
            IoServiceBytesRecursive = Blkio(s.Blkio.IoServiceBytesRecursive),
            IoServicedRecursive = Blkio(s.Blkio.IoServicedRecursive),
            IoQueuedRecursive = Blkio(s.Blkio.IoQueuedRecursive),
            IoServiceTimeRecursive = Blkio(s.Blkio.IoServiceTimeRecursive),
            IoWaitTimeRecursive = Blkio(s.Blkio.IoWaitTimeRecursive),
            IoMergedRecursive = Blkio(s.Blkio.IoMergedRecursive),
            IoTimeRecursive = Blkio(s.Blkio.IoTimeRecursive),
            SectorsRecursive = Blkio(s.Blkio.SectorsRecursive),
        },
        Hugetlb = s.Hugetlb.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .ToDictionary(kv => kv.Key, kv => new RuncHugetlb { Usage = kv.Value.Usage, Max = kv.Value.MaxUsage, Failcnt = kv.Value.Failcnt }),
        IntelRdt = new RuncIntelRdt(),
        NetworkInterfaces = net?.Select(n => new RuncNetworkInterface
        {
            Name = n.Name, RxBytes = n.RxBytes, RxPackets = n.RxPackets, RxErrors = n.RxErrors, RxDropped = n.RxDropped,
            TxBytes = n.TxBytes, TxPackets = n.TxPackets, TxErrors = n.TxErrors, TxDropped = n.TxDropped,
        }).ToList(),
    };

    private static List<ulong>? NullIfEmpty(List<ulong> l) => l.Count == 0 ? null : l;

    private static RuncMemoryEntry Entry(MemoryData d) => new() { Limit = d.Limit, Usage = d.Usage, Max = d.MaxUsage, Failcnt = d.Failcnt };

    private static List<RuncBlkioEntry>? Blkio(List<BlkioStatEntry> l) =>
        l.Count == 0 ? null : l.Select(e => new RuncBlkioEntry { Major = e.Major, Minor = e.Minor, Op = e.Op.Length == 0 ? null : e.Op, Value = e.Value }).ToList();
}

/// <summary>One line of runc's events stream.</summary>
public sealed class RuncEvent
{
    [JsonPropertyName("type")] public string Type { get; set; } = "";
    [JsonPropertyName("id")] public string Id { get; set; } = "";
    [JsonPropertyName("data"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public RuncStats? Data { get; set; }
}

public sealed class RuncStats
{
    [JsonPropertyName("cpu")] public RuncCpu Cpu { get; set; } = new();
    [JsonPropertyName("cpuset")] public RuncCpuset Cpuset { get; set; } = new();
    [JsonPropertyName("memory")] public RuncMemory Memory { get; set; } = new();
    [JsonPropertyName("pids")] public RuncPids Pids { get; set; } = new();
    [JsonPropertyName("blkio")] public RuncBlkio Blkio { get; set; } = new();
    [JsonPropertyName("hugetlb")] public Dictionary<string, RuncHugetlb> Hugetlb { get; set; } = new();
    [JsonPropertyName("intel_rdt")] public RuncIntelRdt IntelRdt { get; set; } = new();
    /// <summary>null (written as JSON null, as runc does) when no interfaces were collected.</summary>
    [JsonPropertyName("network_interfaces")] public List<RuncNetworkInterface>? NetworkInterfaces { get; set; }
}

public sealed class RuncCpu
{
    [JsonPropertyName("usage")] public RuncCpuUsage Usage { get; set; } = new();
    [JsonPropertyName("throttling")] public RuncThrottling Throttling { get; set; } = new();
}

public sealed class RuncCpuUsage
{
    [JsonPropertyName("total"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Total { get; set; }
    [JsonPropertyName("percpu"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<ulong>? Percpu { get; set; }
    [JsonPropertyName("percpu_kernel"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<ulong>? PercpuKernel { get; set; }
    [JsonPropertyName("percpu_user"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<ulong>? PercpuUser { get; set; }
    [JsonPropertyName("kernel")] public ulong Kernel { get; set; }
    [JsonPropertyName("user")] public ulong User { get; set; }
}

public sealed class RuncThrottling
{
    [JsonPropertyName("periods"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Periods { get; set; }
    [JsonPropertyName("throttledPeriods"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong ThrottledPeriods { get; set; }
    [JsonPropertyName("throttledTime"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong ThrottledTime { get; set; }
}

public sealed class RuncCpuset
{
    [JsonPropertyName("cpus"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<ulong>? Cpus { get; set; }
    [JsonPropertyName("cpu_exclusive")] public ulong CpuExclusive { get; set; }
    [JsonPropertyName("mems"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<ulong>? Mems { get; set; }
    [JsonPropertyName("mem_hardwall")] public ulong MemHardwall { get; set; }
    [JsonPropertyName("mem_exclusive")] public ulong MemExclusive { get; set; }
    [JsonPropertyName("memory_migrate")] public ulong MemoryMigrate { get; set; }
    [JsonPropertyName("memory_spread_page")] public ulong MemorySpreadPage { get; set; }
    [JsonPropertyName("memory_spread_slab")] public ulong MemorySpreadSlab { get; set; }
    [JsonPropertyName("memory_pressure")] public ulong MemoryPressure { get; set; }
    [JsonPropertyName("sched_load_balance")] public ulong SchedLoadBalance { get; set; }
    [JsonPropertyName("sched_relax_domain_level")] public long SchedRelaxDomainLevel { get; set; }
}

public sealed class RuncMemoryEntry
{
    [JsonPropertyName("limit")] public ulong Limit { get; set; }
    [JsonPropertyName("usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Usage { get; set; }
    [JsonPropertyName("max"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Max { get; set; }
    [JsonPropertyName("failcnt")] public ulong Failcnt { get; set; }
}

public sealed class RuncMemory
{
    [JsonPropertyName("cache"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Cache { get; set; }
    [JsonPropertyName("usage")] public RuncMemoryEntry Usage { get; set; } = new();
    [JsonPropertyName("swap")] public RuncMemoryEntry Swap { get; set; } = new();
    [JsonPropertyName("kernel")] public RuncMemoryEntry Kernel { get; set; } = new();
    [JsonPropertyName("kernelTCP")] public RuncMemoryEntry KernelTcp { get; set; } = new();
    [JsonPropertyName("raw"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public Dictionary<string, ulong>? Raw { get; set; }
}

public sealed class RuncPids
{
    [JsonPropertyName("current"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Current { get; set; }
    [JsonPropertyName("limit"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Limit { get; set; }
}

public sealed class RuncBlkioEntry
{
    [JsonPropertyName("major"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Major { get; set; }
    [JsonPropertyName("minor"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Minor { get; set; }
    [JsonPropertyName("op"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public string? Op { get; set; }
    [JsonPropertyName("value"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Value { get; set; }
}

public sealed class RuncBlkio
{
    [JsonPropertyName("ioServiceBytesRecursive"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<RuncBlkioEntry>? IoServiceBytesRecursive { get; set; }
    [JsonPropertyName("ioServicedRecursive"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<RuncBlkioEntry>? IoServicedRecursive { get; set; }
    [JsonPropertyName("ioQueueRecursive"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<RuncBlkioEntry>? IoQueuedRecursive { get; set; }
    [JsonPropertyName("ioServiceTimeRecursive"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<RuncBlkioEntry>? IoServiceTimeRecursive { get; set; }
    [JsonPropertyName("ioWaitTimeRecursive"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<RuncBlkioEntry>? IoWaitTimeRecursive { get; set; }
    [JsonPropertyName("ioMergedRecursive"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<RuncBlkioEntry>? IoMergedRecursive { get; set; }
    [JsonPropertyName("ioTimeRecursive"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<RuncBlkioEntry>? IoTimeRecursive { get; set; }
    [JsonPropertyName("sectorsRecursive"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<RuncBlkioEntry>? SectorsRecursive { get; set; }
}

public sealed class RuncHugetlb
{
    [JsonPropertyName("usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Usage { get; set; }
    [JsonPropertyName("max"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public ulong Max { get; set; }
    [JsonPropertyName("failcnt")] public ulong Failcnt { get; set; }
}

/// <summary>Intel RDT is not collected; runc still writes an empty object.</summary>
public sealed class RuncIntelRdt
{
}

public sealed class RuncNetworkInterface
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("rx_bytes")] public ulong RxBytes { get; set; }
    [JsonPropertyName("rx_packets")] public ulong RxPackets { get; set; }
    [JsonPropertyName("rx_errors")] public ulong RxErrors { get; set; }
    [JsonPropertyName("rx_dropped")] public ulong RxDropped { get; set; }
    [JsonPropertyName("tx_bytes")] public ulong TxBytes { get; set; }
    [JsonPropertyName("tx_packets")] public ulong TxPackets { get; set; }
    [JsonPropertyName("tx_errors")] public ulong TxErrors { get; set; }
    [JsonPropertyName("tx_dropped")] public ulong TxDropped { get; set; }
}

/// <summary>Source-generated metadata for the events stream (AOT/trim safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(RuncEvent))]
[JsonSerializable(typeof(RuncStats))]
public sealed partial class RuncEventsJsonContext : JsonSerializerContext
{
}

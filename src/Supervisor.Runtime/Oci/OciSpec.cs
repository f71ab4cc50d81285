using System.Text.Json;
using System.Text.Json.Serialization;

namespace Supervisor.Runtime.Oci;

// The OCI runtime-spec config.json, Linux parts only. Property names follow the runtime-spec exactly; most
// are the camelCase of the C# name (the context's naming policy), the irregular ones carry JsonPropertyName.
// Every member is nullable so that "absent" and "present but empty" stay distinguishable and the
// converter decides the defaults. Unknown JSON members (solaris, windows, vm, newer fields) are skipped.

public sealed record OciSpec
{
    public string? OciVersion { get; init; }
    public OciRoot? Root { get; init; }
    public List<OciMount>? Mounts { get; init; }
    public OciProcess? Process { get; init; }
    public string? Hostname { get; init; }
    public string? Domainname { get; init; }
    public Dictionary<string, string>? Annotations { get; init; }
    public OciHooks? Hooks { get; init; }
    public OciLinux? Linux { get; init; }
}

public sealed record OciRoot
{
    public string? Path { get; init; }
    public bool? Readonly { get; init; }
}

public sealed record OciMount
{
    public string? Destination { get; init; }
    public string? Type { get; init; }
    public string? Source { get; init; }
    public List<string>? Options { get; init; }
    public List<OciIdMapping>? UidMappings { get; init; }
    public List<OciIdMapping>? GidMappings { get; init; }
}

public sealed record OciIdMapping
{
    [JsonPropertyName("containerID")] public uint ContainerId { get; init; }
    [JsonPropertyName("hostID")] public uint HostId { get; init; }
    public uint Size { get; init; }
}

public sealed record OciProcess
{
    public bool? Terminal { get; init; }
    public OciConsoleSize? ConsoleSize { get; init; }
    public OciUser? User { get; init; }
    public List<string>? Args { get; init; }
    public List<string>? Env { get; init; }
    public string? Cwd { get; init; }
    public OciCapabilities? Capabilities { get; init; }
    public List<OciRlimit>? Rlimits { get; init; }
    public bool? NoNewPrivileges { get; init; }
    public string? ApparmorProfile { get; init; }
    public int? OomScoreAdj { get; init; }
    public string? SelinuxLabel { get; init; }
}

public sealed record OciConsoleSize
{
    public uint Height { get; init; }
    public uint Width { get; init; }
}

public sealed record OciUser
{
    public uint? Uid { get; init; }
    public uint? Gid { get; init; }
    public uint? Umask { get; init; }
    public List<uint>? AdditionalGids { get; init; }
    public string? Username { get; init; }
}

public sealed record OciCapabilities
{
    public List<string>? Bounding { get; init; }
    public List<string>? Effective { get; init; }
    public List<string>? Inheritable { get; init; }
    public List<string>? Permitted { get; init; }
    public List<string>? Ambient { get; init; }
}

public sealed record OciRlimit
{
    public string? Type { get; init; }
    public ulong Hard { get; init; }
    public ulong Soft { get; init; }
}

public sealed record OciHooks
{
    public List<OciHook>? Prestart { get; init; }
    public List<OciHook>? CreateRuntime { get; init; }
    public List<OciHook>? CreateContainer { get; init; }
    public List<OciHook>? StartContainer { get; init; }
    public List<OciHook>? Poststart { get; init; }
    public List<OciHook>? Poststop { get; init; }
}

public sealed record OciHook
{
    public string? Path { get; init; }
    public List<string>? Args { get; init; }
    public List<string>? Env { get; init; }
    public int? Timeout { get; init; }
}

public sealed record OciLinux
{
    public List<OciNamespace>? Namespaces { get; init; }
    public List<OciIdMapping>? UidMappings { get; init; }
    public List<OciIdMapping>? GidMappings { get; init; }
    public List<OciDevice>? Devices { get; init; }
    public string? CgroupsPath { get; init; }
    public OciResources? Resources { get; init; }
    public string? RootfsPropagation { get; init; }
    public OciSeccomp? Seccomp { get; init; }
    public Dictionary<string, string>? Sysctl { get; init; }
    public List<string>? MaskedPaths { get; init; }
    public List<string>? ReadonlyPaths { get; init; }
    public string? MountLabel { get; init; }
    public OciIntelRdt? IntelRdt { get; init; }
    public OciPersonality? Personality { get; init; }
    public Dictionary<string, OciTimeOffset>? TimeOffsets { get; init; }
}

public sealed record OciNamespace
{
    public string? Type { get; init; }
    public string? Path { get; init; }
}

public sealed record OciDevice
{
    public string? Type { get; init; }
    public string? Path { get; init; }
    public long? Major { get; init; }
    public long? Minor { get; init; }
    public uint? FileMode { get; init; }
    public uint? Uid { get; init; }
    public uint? Gid { get; init; }
}

public sealed record OciResources
{
    public List<OciDeviceCgroup>? Devices { get; init; }
    public OciMemory? Memory { get; init; }
    public OciCpu? Cpu { get; init; }
    public OciPids? Pids { get; init; }
    [JsonPropertyName("blockIO")] public OciBlockIo? BlockIo { get; init; }
    public List<OciHugepageLimit>? HugepageLimits { get; init; }
    public OciNetwork? Network { get; init; }
    public Dictionary<string, string>? Unified { get; init; }
}

public sealed record OciDeviceCgroup
{
    public bool Allow { get; init; }
    public string? Type { get; init; }
    public long? Major { get; init; }
    public long? Minor { get; init; }
    public string? Access { get; init; }
}

public sealed record OciMemory
{
    public long? Limit { get; init; }
    public long? Reservation { get; init; }
    public long? Swap { get; init; }
    public long? Kernel { get; init; }
    [JsonPropertyName("kernelTCP")] public long? KernelTcp { get; init; }
    public ulong? Swappiness { get; init; }
    [JsonPropertyName("disableOOMKiller")] public bool? DisableOomKiller { get; init; }
    public bool? UseHierarchy { get; init; }
    public bool? CheckBeforeUpdate { get; init; }
}

public sealed record OciCpu
{
    public ulong? Shares { get; init; }
    public long? Quota { get; init; }
    public ulong? Burst { get; init; }
    public ulong? Period { get; init; }
    public long? RealtimeRuntime { get; init; }
    public ulong? RealtimePeriod { get; init; }
    public string? Cpus { get; init; }
    public string? Mems { get; init; }
    public long? Idle { get; init; }
}

public sealed record OciPids
{
    public long Limit { get; init; }
}

public sealed record OciBlockIo
{
    public ushort? Weight { get; init; }
    public ushort? LeafWeight { get; init; }
    public List<OciWeightDevice>? WeightDevice { get; init; }
    public List<OciThrottleDevice>? ThrottleReadBpsDevice { get; init; }
    public List<OciThrottleDevice>? ThrottleWriteBpsDevice { get; init; }
    [JsonPropertyName("throttleReadIOPSDevice")] public List<OciThrottleDevice>? ThrottleReadIopsDevice { get; init; }
    [JsonPropertyName("throttleWriteIOPSDevice")] public List<OciThrottleDevice>? ThrottleWriteIopsDevice { get; init; }
}

public sealed record OciWeightDevice
{
    public long Major { get; init; }
    public long Minor { get; init; }
    public ushort? Weight { get; init; }
    public ushort? LeafWeight { get; init; }
}

public sealed record OciThrottleDevice
{
    public long Major { get; init; }
    public long Minor { get; init; }
    public ulong Rate { get; init; }
}

public sealed record OciHugepageLimit
{
    public string? PageSize { get; init; }
    public ulong Limit { get; init; }
}

public sealed record OciNetwork
{
    [JsonPropertyName("classID")] public uint? ClassId { get; init; }
    public List<OciInterfacePriority>? Priorities { get; init; }
}

public sealed record OciInterfacePriority
{
    public string? Name { get; init; }
    public uint Priority { get; init; }
}

public sealed record OciSeccomp
{
    public string? DefaultAction { get; init; }
    public uint? DefaultErrnoRet { get; init; }
    public List<string>? Architectures { get; init; }
    public List<string>? Flags { get; init; }
    public string? ListenerPath { get; init; }
    public string? ListenerMetadata { get; init; }
    public List<OciSyscall>? Syscalls { get; init; }
}

public sealed record OciSyscall
{
    public List<string>? Names { get; init; }
    public string? Action { get; init; }
    public uint? ErrnoRet { get; init; }
    public List<OciSyscallArg>? Args { get; init; }
}

public sealed record OciSyscallArg
{
    public uint Index { get; init; }
    public ulong Value { get; init; }
    public ulong ValueTwo { get; init; }
    public string? Op { get; init; }
}

public sealed record OciIntelRdt
{
    [JsonPropertyName("closID")] public string? ClosId { get; init; }
    public string? L3CacheSchema { get; init; }
    public string? MemBwSchema { get; init; }
    [JsonPropertyName("enableCMT")] public bool? EnableCmt { get; init; }
    [JsonPropertyName("enableMBM")] public bool? EnableMbm { get; init; }
}

public sealed record OciPersonality
{
    public string? Domain { get; init; }
    public List<string>? Flags { get; init; }
}

public sealed record OciTimeOffset
{
    public long Secs { get; init; }
    public uint Nanosecs { get; init; }
}

/// <summary>
/// Source-generated (reflection-free, NativeAOT-safe) serializer for config.json. Indented output is for
/// <c>supervisor spec</c>; nulls are omitted so absent optional members stay absent.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    MaxDepth = SpecLoader.MaxDepth,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    AllowTrailingCommas = false,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(OciSpec))]
[JsonSerializable(typeof(OciProcess))]
[JsonSerializable(typeof(OciResources))]
public sealed partial class OciJsonContext : JsonSerializerContext;

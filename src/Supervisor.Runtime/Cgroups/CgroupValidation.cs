using System.Text.RegularExpressions;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Cgroups;

/// <summary>
/// Checks resources against the kernel's rules before anything is written, so a live update is all or
/// nothing. <c>versionOf</c> says which interface drives a controller on this host (null: not available).
/// </summary>
internal static partial class CgroupValidation
{
    internal const ulong MinShares = 2, MaxShares = 262144;

    public static List<string> Validate(Resources r, Func<string, CgroupVersion?> versionOf)
    {
        var errors = new List<string>();
        void Need(string controller, string what)
        {
            if (versionOf(controller) is null)
                errors.Add($"{what} needs the {controller} cgroup controller, which is not available");
        }
        void V1Only(string controller, string what)
        {
            if (versionOf(controller) == CgroupVersion.V2)
                errors.Add($"{what} is not supported on cgroup v2");
        }

        if (r.Memory is { } m)
        {
            bool any = m.Limit is not null || m.Reservation is not null || m.Swap is not null || m.Kernel is not null ||
                       m.KernelTcp is not null || m.Swappiness is not null || m.DisableOomKiller is not null || m.UseHierarchy is not null;
            if (any)
                Need("memory", "a memory limit");
            CheckLimit(errors, "memory limit", m.Limit);
            CheckLimit(errors, "memory reservation", m.Reservation);
            CheckLimit(errors, "memory+swap limit", m.Swap);
            CheckLimit(errors, "kernel memory limit", m.Kernel);
            CheckLimit(errors, "kernel TCP memory limit", m.KernelTcp);
            if (m.Swap is > 0)
            {
                if (m.Limit is > 0 && m.Swap < m.Limit)
                    errors.Add($"memory+swap limit {m.Swap} must not be lower than the memory limit {m.Limit}");
                if (m.Limit == -1)
                    errors.Add($"memory+swap limit {m.Swap} cannot be set with an unlimited memory limit");
                if (versionOf("memory") == CgroupVersion.V2 && m.Limit is null or 0)
                    errors.Add("memory+swap limit on cgroup v2 needs a memory limit (swap.max = memory+swap - memory)");
            }
            if (m.Swappiness is > 100)
                errors.Add($"memory swappiness {m.Swappiness} is out of range 0..100");
            if (m.Swappiness is not null)
                V1Only("memory", "memory swappiness");
            if (m.DisableOomKiller == true)
                V1Only("memory", "disabling the OOM killer");
        }

        if (r.Cpu is { } c)
        {
            if (c.Shares is not null || c.Quota is not null || c.Period is not null || c.Burst is not null ||
                c.RealtimeRuntime is not null || c.RealtimePeriod is not null || c.Idle is not null)
                Need("cpu", "a cpu limit");
            if (c.Shares is { } sh && sh != 0 && (sh < MinShares || sh > MaxShares))
                errors.Add($"cpu shares {sh} is out of range {MinShares}..{MaxShares}");
            if (c.Quota is { } q && (q < -1 || q is > 0 and < 1000))
                errors.Add($"cpu quota {q} must be -1 (unlimited) or at least 1000 µs");
            if (c.Period is { } p && p != 0 && (p < 1000 || p > 1_000_000))
                errors.Add($"cpu period {p} is out of range 1000..1000000 µs");
            if (c.Burst is { } b && b != 0)
            {
                if (c.Quota is null or <= 0)
                    errors.Add($"cpu burst {b} needs a cpu quota");
                else if ((long)b > c.Quota)
                    errors.Add($"cpu burst {b} must not exceed the cpu quota {c.Quota}");
            }
            if (c.RealtimeRuntime is { } rt && rt < -1)
                errors.Add($"cpu realtime runtime {rt} must be -1 or non-negative");
            if (c.RealtimeRuntime is > 0 && c.RealtimePeriod is { } rp && rp != 0 && (ulong)c.RealtimeRuntime > rp)
                errors.Add($"cpu realtime runtime {c.RealtimeRuntime} must not exceed the realtime period {rp}");
            if (c.RealtimeRuntime is not null and not 0 || c.RealtimePeriod is not null and not 0)
                V1Only("cpu", "cpu realtime scheduling");
            if (c.Idle is { } idle && idle is not (0 or 1))
                errors.Add($"cpu idle {idle} must be 0 or 1");
            if (c.Cpus is not null || c.Mems is not null)
                Need("cpuset", "a cpuset");
            if (c.Cpus is { } cpus && !IsCpuList(cpus))
                errors.Add($"cpuset cpus \"{cpus}\" is not a list like 0-2,4");
            if (c.Mems is { } mems && !IsCpuList(mems))
                errors.Add($"cpuset mems \"{mems}\" is not a list like 0-1");
        }

        if (r.Pids is not null)
            Need("pids", "a pids limit");

        if (r.BlockIo is { } bio)
        {
            Need("blkio", "a block I/O setting");
            CheckWeight(errors, "blkio weight", bio.Weight);
            CheckWeight(errors, "blkio leaf weight", bio.LeafWeight);
            if (bio.LeafWeight is not null and not 0)
                V1Only("blkio", "blkio leaf weight");
            foreach (var d in bio.WeightDevices)
            {
                CheckDevice(errors, "blkio weight device", d.Major, d.Minor);
                CheckWeight(errors, $"blkio weight for device {d.Major}:{d.Minor}", d.Weight);
                CheckWeight(errors, $"blkio leaf weight for device {d.Major}:{d.Minor}", d.LeafWeight);
            }
            foreach (var d in bio.ThrottleReadBpsDevices.Concat(bio.ThrottleWriteBpsDevices)
                         .Concat(bio.ThrottleReadIopsDevices).Concat(bio.ThrottleWriteIopsDevices))
                CheckDevice(errors, "blkio throttle device", d.Major, d.Minor);
        }

        if (r.HugepageLimits.Count > 0)
            Need("hugetlb", "a hugetlb limit");
        foreach (var h in r.HugepageLimits)
            if (!PageSizeRegex().IsMatch(h.Pagesize))
                errors.Add($"hugetlb page size \"{h.Pagesize}\" is not like 2MB or 1GB");

        if (r.Network is { } net)
        {
            if (net.ClassId is not null)
            {
                Need("net_cls", "a network class id");
                V1Only("net_cls", "net_cls.classid");
            }
            if (net.Priorities.Count > 0)
            {
                Need("net_prio", "network priorities");
                V1Only("net_prio", "net_prio.ifpriomap");
            }
            foreach (var p in net.Priorities)
                if (p.Name.Length == 0 || p.Name.Any(char.IsWhiteSpace) || p.Name.Contains('\0'))
                    errors.Add($"network priority interface name \"{p.Name}\" is invalid");
        }

        if (r.Devices.Count > 0)
        {
            Need("devices", "device rules");
        }
        foreach (var d in r.Devices)
        {
            if (d.Type is not ('a' or 'b' or 'c'))
                errors.Add($"device rule type '{d.Type}' must be a, b or c");
            if (d.Access.Length == 0 || d.Access.Any(ch => ch is not ('r' or 'w' or 'm')) || d.Access.Distinct().Count() != d.Access.Length)
                errors.Add($"device rule access \"{d.Access}\" must be a subset of rwm");
            if (d.Major is < 0 || d.Minor is < 0)
                errors.Add($"device rule {d.ToCgroupString()} has a negative number");
        }

        if (r.Unified.Count > 0 && versionOf("") is null)
            errors.Add("unified (cgroup v2) resources need a cgroup2 hierarchy, which is not mounted");
        foreach (var (key, value) in r.Unified)
        {
            if (key.Length == 0 || key.Contains('/') || key.Contains("..") || key.Contains('\0') || key is "." || !key.Contains('.'))
                errors.Add($"unified key \"{key}\" is not a cgroup file name");
            if (value.Contains('\0'))
                errors.Add($"unified value for \"{key}\" contains a NUL byte");
        }
        return errors;
    }

    private static void CheckLimit(List<string> errors, string what, long? v)
    {
        if (v is < -1)
            errors.Add($"{what} {v} must be -1 (unlimited) or non-negative");
    }

    private static void CheckWeight(List<string> errors, string what, ushort? w)
    {
        if (w is { } v && v != 0 && (v < 10 || v > 1000))
            errors.Add($"{what} {v} is out of range 10..1000");
    }

    private static void CheckDevice(List<string> errors, string what, long major, long minor)
    {
        if (major < 0 || minor < 0)
            errors.Add($"{what} {major}:{minor} has a negative number");
    }

    /// <summary>A kernel cpu/mem list: comma-separated numbers or ascending ranges.</summary>
    internal static bool IsCpuList(string s)
    {
        if (s.Length == 0)
            return true;
        foreach (var part in s.Split(','))
        {
            var m = RangeRegex().Match(part);
            if (!m.Success)
                return false;
            if (m.Groups[2].Success && ulong.Parse(m.Groups[2].Value) < ulong.Parse(m.Groups[1].Value))
                return false;
        }
        return true;
    }

    [GeneratedRegex(@"^([0-9]{1,6})(?:-([0-9]{1,6}))?$")]
    private static partial Regex RangeRegex();

    [GeneratedRegex(@"^[0-9]+(B|KB|MB|GB|TB|PB)$")]
    private static partial Regex PageSizeRegex();
}

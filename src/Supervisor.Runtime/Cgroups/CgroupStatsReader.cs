using System.Globalization;

namespace Supervisor.Runtime.Cgroups;

/// <summary>
/// Reads stats files. A missing file gives zeros or an empty list (controllers and kernels differ in which
/// files they have); a value that does not parse is a <see cref="CgroupStatsException"/> naming file and line.
/// </summary>
internal static class CgroupStatsReader
{
    /// <summary>USER_HZ: cpuacct.stat counts in clock ticks, which the kernel fixes at 100 per second for user space.</summary>
    private const ulong ClockTicksPerSecond = 100;

    // ---- primitives ----

    /// <summary>A decimal value; negative values saturate to 0 (v1 reports -1 in some counters); "max" is ulong.MaxValue.</summary>
    internal static ulong ParseValue(string path, string line, string token)
    {
        if (token == "max")
            return ulong.MaxValue;
        if (ulong.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            return v;
        if (token.Length > 1 && token[0] == '-' && token.AsSpan(1).IndexOfAnyExceptInRange('0', '9') < 0)
            return 0;
        throw new CgroupStatsException(path, line, $"\"{token}\" is not a number");
    }

    /// <summary>A file holding one number; 0 when the file is missing.</summary>
    internal static ulong ReadSingle(CgroupIo io, string path)
    {
        var text = io.ReadOptional(path);
        if (text is null)
            return 0;
        var line = text.Trim();
        if (line.Length == 0)
            throw new CgroupStatsException(path, line, "empty value");
        return ParseValue(path, line, line);
    }

    /// <summary>"key value" lines; empty when the file is missing.</summary>
    internal static Dictionary<string, ulong> ReadKeyValues(CgroupIo io, string path)
    {
        var result = new Dictionary<string, ulong>(StringComparer.Ordinal);
        var text = io.ReadOptional(path);
        if (text is null)
            return result;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0)
                continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2)
                throw new CgroupStatsException(path, line, "expected \"key value\"");
            result[parts[0]] = ParseValue(path, line, parts[1]);
        }
        return result;
    }

    /// <summary>Space-separated numbers on one line (cpuacct.usage_percpu).</summary>
    internal static List<ulong> ReadList(CgroupIo io, string path)
    {
        var text = io.ReadOptional(path);
        if (text is null)
            return [];
        var line = text.Trim();
        return line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(t => ParseValue(path, line, t)).ToList();
    }

    /// <summary>A cpuset list such as "0-2,4"; empty text gives an empty list.</summary>
    internal static List<ulong> ParseCpuList(string path, string text)
    {
        var result = new List<ulong>();
        var line = text.Trim();
        if (line.Length == 0)
            return result;
        foreach (var part in line.Split(','))
        {
            int dash = part.IndexOf('-');
            if (dash < 0)
            {
                result.Add(ParseValue(path, line, part));
                continue;
            }
            ulong lo = ParseValue(path, line, part[..dash]);
            ulong hi = ParseValue(path, line, part[(dash + 1)..]);
            if (hi < lo || hi - lo > 65536)
                throw new CgroupStatsException(path, line, $"bad range \"{part}\"");
            for (ulong i = lo; i <= hi; i++)
                result.Add(i);
        }
        return result;
    }

    /// <summary>blkio lines "maj:min [Op] value"; "Total N" lines are skipped.</summary>
    internal static List<BlkioStatEntry> ReadBlkio(CgroupIo io, string path)
    {
        var result = new List<BlkioStatEntry>();
        var text = io.ReadOptional(path);
        if (text is null)
            return result;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0)
                continue;
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f[0] == "Total")
                continue;
            if (f.Length < 2 || f.Length > 3)
                throw new CgroupStatsException(path, line, "expected \"major:minor [op] value\"");
            var (maj, min) = ParseDevice(path, line, f[0]);
            string op = f.Length == 3 ? f[1] : "";
            result.Add(new BlkioStatEntry(maj, min, op, ParseValue(path, line, f[^1])));
        }
        return result;
    }

    private static (ulong, ulong) ParseDevice(string path, string line, string token)
    {
        int colon = token.IndexOf(':');
        if (colon <= 0)
            throw new CgroupStatsException(path, line, $"\"{token}\" is not major:minor");
        return (ParseValue(path, line, token[..colon]), ParseValue(path, line, token[(colon + 1)..]));
    }

    // ---- cgroup v1 ----

    internal static void ReadV1Cpu(CgroupIo io, string cpuDir, CgroupStats s)
    {
        var st = ReadKeyValues(io, Path.Combine(cpuDir, "cpu.stat"));
        s.Cpu.Throttling.Periods = st.GetValueOrDefault("nr_periods");
        s.Cpu.Throttling.ThrottledPeriods = st.GetValueOrDefault("nr_throttled");
        s.Cpu.Throttling.ThrottledTime = st.GetValueOrDefault("throttled_time");
    }

    internal static void ReadV1Cpuacct(CgroupIo io, string dir, CgroupStats s)
    {
        var u = s.Cpu.Usage;
        u.Total = ReadSingle(io, Path.Combine(dir, "cpuacct.usage"));
        u.PerCpu = ReadList(io, Path.Combine(dir, "cpuacct.usage_percpu"));
        u.PerCpuKernel = ReadList(io, Path.Combine(dir, "cpuacct.usage_percpu_sys"));
        u.PerCpuUser = ReadList(io, Path.Combine(dir, "cpuacct.usage_percpu_user"));
        var stat = ReadKeyValues(io, Path.Combine(dir, "cpuacct.stat"));
        const ulong nsPerTick = 1_000_000_000UL / ClockTicksPerSecond;
        u.User = stat.GetValueOrDefault("user") * nsPerTick;
        u.Kernel = stat.GetValueOrDefault("system") * nsPerTick;
    }

    internal static void ReadV1Cpuset(CgroupIo io, string dir, CgroupStats s)
    {
        var c = s.Cpuset;
        string F(string n) => Path.Combine(dir, "cpuset." + n);
        c.Cpus = ParseCpuList(F("cpus"), io.ReadOptional(F("cpus")) ?? "");
        c.Mems = ParseCpuList(F("mems"), io.ReadOptional(F("mems")) ?? "");
        c.CpuExclusive = ReadSingle(io, F("cpu_exclusive"));
        c.MemHardwall = ReadSingle(io, F("mem_hardwall"));
        c.MemExclusive = ReadSingle(io, F("mem_exclusive"));
        c.MemoryMigrate = ReadSingle(io, F("memory_migrate"));
        c.MemorySpreadPage = ReadSingle(io, F("memory_spread_page"));
        c.MemorySpreadSlab = ReadSingle(io, F("memory_spread_slab"));
        c.MemoryPressure = ReadSingle(io, F("memory_pressure"));
        c.SchedLoadBalance = ReadSingle(io, F("sched_load_balance"));
        var relax = io.ReadOptional(F("sched_relax_domain_level"))?.Trim();
        if (!string.IsNullOrEmpty(relax))
        {
            if (!long.TryParse(relax, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var lvl))
                throw new CgroupStatsException(F("sched_relax_domain_level"), relax, $"\"{relax}\" is not a number");
            c.SchedRelaxDomainLevel = lvl;
        }
    }

    internal static void ReadV1Memory(CgroupIo io, string dir, CgroupStats s)
    {
        var m = s.Memory;
        m.Raw = ReadKeyValues(io, Path.Combine(dir, "memory.stat"));
        m.Cache = m.Raw.GetValueOrDefault("cache");
        m.Usage = ReadV1MemoryData(io, dir, "memory");
        m.Swap = ReadV1MemoryData(io, dir, "memory.memsw");
        m.Kernel = ReadV1MemoryData(io, dir, "memory.kmem");
        m.KernelTcp = ReadV1MemoryData(io, dir, "memory.kmem.tcp");
        m.UseHierarchy = ReadSingle(io, Path.Combine(dir, "memory.use_hierarchy")) == 1;
    }

    private static MemoryData ReadV1MemoryData(CgroupIo io, string dir, string prefix) => new()
    {
        Usage = ReadSingle(io, Path.Combine(dir, prefix + ".usage_in_bytes")),
        MaxUsage = ReadSingle(io, Path.Combine(dir, prefix + ".max_usage_in_bytes")),
        Failcnt = ReadSingle(io, Path.Combine(dir, prefix + ".failcnt")),
        Limit = ReadSingle(io, Path.Combine(dir, prefix + ".limit_in_bytes")),
    };

    internal static void ReadV1Pids(CgroupIo io, string dir, CgroupStats s)
    {
        s.Pids.Current = ReadSingle(io, Path.Combine(dir, "pids.current"));
        var max = ReadSingle(io, Path.Combine(dir, "pids.max"));
        s.Pids.Limit = max == ulong.MaxValue ? 0 : max;
    }

    internal static void ReadV1Blkio(CgroupIo io, string dir, CgroupStats s)
    {
        var b = s.Blkio;
        string F(string n) => Path.Combine(dir, "blkio." + n);
        // CFQ (and BFQ's compatibility files) exist only with a proportional-weight scheduler; when the
        // CFQ counters are absent or empty, only the throttle layer's counters are meaningful.
        var serviced = ReadBlkio(io, F("io_serviced_recursive"));
        if (serviced.Count > 0)
        {
            b.IoServicedRecursive = serviced;
            b.SectorsRecursive = ReadBlkio(io, F("sectors_recursive"));
            b.IoServiceBytesRecursive = ReadBlkio(io, F("io_service_bytes_recursive"));
            b.IoQueuedRecursive = ReadBlkio(io, F("io_queued_recursive"));
            b.IoServiceTimeRecursive = ReadBlkio(io, F("io_service_time_recursive"));
            b.IoWaitTimeRecursive = ReadBlkio(io, F("io_wait_time_recursive"));
            b.IoMergedRecursive = ReadBlkio(io, F("io_merged_recursive"));
            b.IoTimeRecursive = ReadBlkio(io, F("time_recursive"));
            return;
        }
        b.IoServiceBytesRecursive = ReadBlkio(io, F("throttle.io_service_bytes"));
        b.IoServicedRecursive = ReadBlkio(io, F("throttle.io_serviced"));
    }

    internal static void ReadV1Hugetlb(CgroupIo io, string dir, CgroupStats s)
    {
        foreach (var size in PageSizes(io, dir, ".limit_in_bytes"))
        {
            string F(string n) => Path.Combine(dir, $"hugetlb.{size}.{n}");
            s.Hugetlb[size] = new HugetlbStats
            {
                Usage = ReadSingle(io, F("usage_in_bytes")),
                MaxUsage = ReadSingle(io, F("max_usage_in_bytes")),
                Failcnt = ReadSingle(io, F("failcnt")),
                Limit = ReadSingle(io, F("limit_in_bytes")),
            };
        }
    }

    /// <summary>Page sizes for which the cgroup has hugetlb.&lt;size&gt;&lt;suffix&gt; files.</summary>
    internal static IEnumerable<string> PageSizes(CgroupIo io, string dir, string suffix) =>
        io.Files(dir)
            .Where(f => f.StartsWith("hugetlb.", StringComparison.Ordinal) && f.EndsWith(suffix, StringComparison.Ordinal)
                        && f.Length > "hugetlb.".Length + suffix.Length)
            .Select(f => f["hugetlb.".Length..^suffix.Length])
            .Where(size => !size.Contains('.'))
            .Order(StringComparer.Ordinal);

    // ---- cgroup v2 ----

    internal static void ReadV2Cpu(CgroupIo io, string dir, CgroupStats s)
    {
        var st = ReadKeyValues(io, Path.Combine(dir, "cpu.stat"));
        s.Cpu.Usage.Total = st.GetValueOrDefault("usage_usec") * 1000;
        s.Cpu.Usage.User = st.GetValueOrDefault("user_usec") * 1000;
        s.Cpu.Usage.Kernel = st.GetValueOrDefault("system_usec") * 1000;
        s.Cpu.Throttling.Periods = st.GetValueOrDefault("nr_periods");
        s.Cpu.Throttling.ThrottledPeriods = st.GetValueOrDefault("nr_throttled");
        s.Cpu.Throttling.ThrottledTime = st.GetValueOrDefault("throttled_usec") * 1000;
    }

    internal static void ReadV2Cpuset(CgroupIo io, string dir, CgroupStats s)
    {
        string cpus = Path.Combine(dir, "cpuset.cpus.effective"), mems = Path.Combine(dir, "cpuset.mems.effective");
        s.Cpuset.Cpus = ParseCpuList(cpus, io.ReadOptional(cpus) ?? "");
        s.Cpuset.Mems = ParseCpuList(mems, io.ReadOptional(mems) ?? "");
    }

    internal static void ReadV2Memory(CgroupIo io, string dir, CgroupStats s)
    {
        var m = s.Memory;
        string F(string n) => Path.Combine(dir, n);
        m.Raw = ReadKeyValues(io, F("memory.stat"));
        m.Cache = m.Raw.GetValueOrDefault("file");
        var events = ReadKeyValues(io, F("memory.events"));
        m.Usage = new MemoryData
        {
            Usage = ReadSingle(io, F("memory.current")),
            MaxUsage = ReadSingle(io, F("memory.peak")),
            Failcnt = events.GetValueOrDefault("max"),
            Limit = ReadSingle(io, F("memory.max")),
        };
        // v2 accounts swap on its own; present it as v1's memsw (memory + swap) so consumers of the
        // "swap" entry see the same meaning on both versions.
        var swapUsage = ReadSingle(io, F("memory.swap.current"));
        var swapLimit = ReadSingle(io, F("memory.swap.max"));
        var swapPeak = ReadSingle(io, F("memory.swap.peak"));
        var swapEvents = ReadKeyValues(io, F("memory.swap.events"));
        m.Swap = new MemoryData
        {
            Usage = SaturatingAdd(swapUsage, m.Usage.Usage),
            MaxUsage = swapPeak,
            Failcnt = swapEvents.GetValueOrDefault("fail"),
            Limit = SaturatingAdd(swapLimit, m.Usage.Limit),
        };
        m.UseHierarchy = true;
    }

    private static ulong SaturatingAdd(ulong a, ulong b) => a > ulong.MaxValue - b ? ulong.MaxValue : a + b;

    internal static void ReadV2Pids(CgroupIo io, string dir, CgroupStats s)
    {
        s.Pids.Current = ReadSingle(io, Path.Combine(dir, "pids.current"));
        var max = ReadSingle(io, Path.Combine(dir, "pids.max"));
        s.Pids.Limit = max == ulong.MaxValue ? 0 : max;
    }

    /// <summary>io.stat: "maj:min rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N".</summary>
    internal static void ReadV2Io(CgroupIo io, string dir, CgroupStats s)
    {
        string path = Path.Combine(dir, "io.stat");
        var text = io.ReadOptional(path);
        if (text is null)
            return;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0)
                continue;
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var (maj, min) = ParseDevice(path, line, f[0]);
            foreach (var kv in f.Skip(1))
            {
                int eq = kv.IndexOf('=');
                if (eq <= 0)
                    throw new CgroupStatsException(path, line, $"\"{kv}\" is not key=value");
                ulong v = ParseValue(path, line, kv[(eq + 1)..]);
                switch (kv[..eq])
                {
                    case "rbytes": s.Blkio.IoServiceBytesRecursive.Add(new(maj, min, "Read", v)); break;
                    case "wbytes": s.Blkio.IoServiceBytesRecursive.Add(new(maj, min, "Write", v)); break;
                    case "rios": s.Blkio.IoServicedRecursive.Add(new(maj, min, "Read", v)); break;
                    case "wios": s.Blkio.IoServicedRecursive.Add(new(maj, min, "Write", v)); break;
                }
            }
        }
    }

    internal static void ReadV2Hugetlb(CgroupIo io, string dir, CgroupStats s)
    {
        foreach (var size in PageSizes(io, dir, ".max"))
        {
            string F(string n) => Path.Combine(dir, $"hugetlb.{size}.{n}");
            s.Hugetlb[size] = new HugetlbStats
            {
                Usage = ReadSingle(io, F("current")),
                Failcnt = ReadKeyValues(io, F("events")).GetValueOrDefault("max"),
                Limit = ReadSingle(io, F("max")),
            };
        }
    }
}

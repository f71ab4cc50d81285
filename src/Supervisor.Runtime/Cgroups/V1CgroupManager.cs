using System.Globalization;
using Supervisor.Linux;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Cgroups;

/// <summary>
/// cgroup v1: one directory per hierarchy. Co-mounted controllers (cpu,cpuacct) share a directory, which is
/// created, joined and removed once.
/// </summary>
internal sealed class V1CgroupManager : ICgroupManager
{
    private readonly Dictionary<string, string> _paths;
    private readonly CgroupIo _io;
    private List<string> _created = [];

    public V1CgroupManager(IReadOnlyDictionary<string, string> paths, CgroupIo io)
    {
        _paths = new Dictionary<string, string>(paths, StringComparer.Ordinal);
        _io = io;
    }

    public IReadOnlyDictionary<string, string> Paths => _paths;

    private IEnumerable<string> Dirs => _paths.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);

    public string? Path(string controller) => _paths.GetValueOrDefault(controller);

    public CgroupVersion? VersionOf(string controller) => _paths.ContainsKey(controller) ? CgroupVersion.V1 : null;

    public bool Exists() => _paths.Count > 0 && Dirs.All(_io.DirectoryExists);

    public IReadOnlyList<string> Validate(Resources resources) => CgroupValidation.Validate(resources, VersionOf);

    public void Create(Resources resources)
    {
        ThrowIfInvalid(Validate(resources));
        CreateCore(resources);
    }

    /// <summary>Create without validation (the hybrid manager validates against the whole layout).</summary>
    internal void CreateCore(Resources resources)
    {
        _created = [];
        try
        {
            foreach (var dir in Dirs)
                _created.AddRange(CgroupTree.MakeAll(_io, dir));
            if (Path("cpuset") is { } cpuset)
                foreach (var d in _created.Where(d => d == cpuset || cpuset.StartsWith(d + "/", StringComparison.Ordinal)))
                    CopyCpusetFromParent(d);
            Write(resources);
        }
        catch
        {
            UndoCreate();
            throw;
        }
    }

    /// <summary>Removes what the last <see cref="Create"/> made (the hybrid manager calls this when its v2 half fails).</summary>
    internal void UndoCreate()
    {
        CgroupTree.RemoveCreated(_io, _created);
        _created = [];
    }

    /// <summary>
    /// A new v1 cpuset starts with empty cpus and mems, and the kernel refuses tasks in such a cgroup, so
    /// every directory we create inherits its parent's sets unless the resources override them.
    /// </summary>
    private void CopyCpusetFromParent(string dir)
    {
        var parent = System.IO.Path.GetDirectoryName(dir)!;
        foreach (var file in new[] { "cpuset.cpus", "cpuset.mems" })
        {
            var own = _io.ReadOptional(System.IO.Path.Combine(dir, file));
            if (own is null || own.Trim().Length > 0)
                continue;
            var inherited = _io.Read(System.IO.Path.Combine(parent, file)).Trim();
            if (inherited.Length > 0)
                _io.Write(System.IO.Path.Combine(dir, file), inherited);
        }
    }

    public void Apply(int pid)
    {
        var value = pid.ToString(CultureInfo.InvariantCulture);
        foreach (var dir in Dirs)
            _io.Write(System.IO.Path.Combine(dir, "cgroup.procs"), value);
    }

    public void Set(Resources resources)
    {
        ThrowIfInvalid(Validate(resources));
        Write(resources);
    }

    internal void SetCore(Resources resources) => Write(resources);

    internal static void ThrowIfInvalid(IReadOnlyList<string> errors)
    {
        if (errors.Count > 0)
            throw new CgroupException("invalid cgroup resources: " + string.Join("; ", errors));
    }

    private string F(string controller, string file) => System.IO.Path.Combine(_paths[controller], file);

    private bool Has(string controller, string file) => _paths.ContainsKey(controller) && _io.FileExists(F(controller, file));

    private static string N(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string N(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    private void Write(Resources r)
    {
        if (r.Memory is { } m && _paths.ContainsKey("memory"))
            WriteMemory(m);
        if (r.Cpu is { } c)
        {
            if (_paths.ContainsKey("cpu"))
                WriteCpu(c);
            if (_paths.ContainsKey("cpuset"))
            {
                if (c.Cpus is { } cpus)
                    _io.Write(F("cpuset", "cpuset.cpus"), cpus);
                if (c.Mems is { } mems)
                    _io.Write(F("cpuset", "cpuset.mems"), mems);
            }
        }
        if (r.Pids is { } p && _paths.ContainsKey("pids"))
            _io.Write(F("pids", "pids.max"), p.Limit > 0 ? N(p.Limit) : "max");
        if (r.BlockIo is { } b && _paths.ContainsKey("blkio"))
            WriteBlkio(b);
        if (_paths.ContainsKey("hugetlb"))
            foreach (var h in r.HugepageLimits)
                _io.Write(F("hugetlb", $"hugetlb.{h.Pagesize}.limit_in_bytes"), N(h.Limit));
        if (r.Network is { } net)
        {
            if (net.ClassId is { } id && _paths.ContainsKey("net_cls"))
                _io.Write(F("net_cls", "net_cls.classid"), id.ToString(CultureInfo.InvariantCulture));
            if (_paths.ContainsKey("net_prio"))
                foreach (var prio in net.Priorities)
                    _io.Write(F("net_prio", "net_prio.ifpriomap"), $"{prio.Name} {prio.Priority}");
        }
        if (r.Devices.Count > 0 && _paths.ContainsKey("devices") && !DevicesAlreadyMatch(r.Devices))
        {
            // Start from nothing and apply the rules in order: the container gets exactly the devices the
            // rules allow, whatever the parent allowed.
            _io.Write(F("devices", "devices.deny"), "a");
            foreach (var d in r.Devices)
                _io.Write(F("devices", d.Allow ? "devices.allow" : "devices.deny"), d.ToCgroupString());
        }
    }

    /// <summary>
    /// The reset above briefly denies every device, so a live update that does not change the rules must
    /// not perform it. For the usual rule shape (deny all, then allows) the kernel's devices.list is exactly
    /// the allow lines; when it already reads that way there is nothing to do.
    /// </summary>
    private bool DevicesAlreadyMatch(IReadOnlyList<DeviceRule> rules)
    {
        if (rules[0] is not { Allow: false, Type: 'a' } || rules.Skip(1).Any(d => !d.Allow || d.Type == 'a'))
            return false;
        var current = _io.ReadOptional(F("devices", "devices.list"));
        if (current is null)
            return false;
        var have = current.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var want = rules.Skip(1).Select(d => d.ToCgroupString()).Distinct().ToArray();
        return have.Length == want.Length && have.Order(StringComparer.Ordinal).SequenceEqual(want.Order(StringComparer.Ordinal));
    }

    private void WriteMemory(MemoryResources m)
    {
        long limit = m.Limit ?? 0, swap = m.Swap ?? 0;
        string limitFile = F("memory", "memory.limit_in_bytes"), swapFile = F("memory", "memory.memsw.limit_in_bytes");
        bool writeSwap = swap != 0;
        if (writeSwap && !_io.FileExists(swapFile))
        {
            if (swap != -1)
                throw new CgroupException($"cgroup memory.memsw.limit_in_bytes={swap}: swap accounting is disabled on this kernel (no memsw files)", swapFile, Errno.ENOENT);
            writeSwap = false;
        }
        if (limit != 0 && writeSwap)
        {
            // The kernel keeps memory.limit <= memsw.limit at every step: raising, memsw must move first;
            // lowering, memory must move first.
            ulong current = CgroupStatsReader.ReadSingle(_io, limitFile);
            bool raising = limit == -1 || (ulong)limit > current;
            if (raising)
            {
                _io.Write(swapFile, N(swap));
                _io.Write(limitFile, N(limit));
            }
            else
            {
                _io.Write(limitFile, N(limit));
                _io.Write(swapFile, N(swap));
            }
        }
        else if (limit != 0)
            _io.Write(limitFile, N(limit));
        else if (writeSwap)
            _io.Write(swapFile, N(swap));

        if (m.Reservation is { } res and not 0)
            _io.Write(F("memory", "memory.soft_limit_in_bytes"), N(res));
        if (m.Kernel is { } k and not 0 && Has("memory", "memory.kmem.limit_in_bytes"))
            _io.Write(F("memory", "memory.kmem.limit_in_bytes"), N(k));
        if (m.KernelTcp is { } kt and not 0 && Has("memory", "memory.kmem.tcp.limit_in_bytes"))
            _io.Write(F("memory", "memory.kmem.tcp.limit_in_bytes"), N(kt));
        if (m.Swappiness is { } sw)
            _io.Write(F("memory", "memory.swappiness"), N(sw));
        if (m.UseHierarchy is { } uh)
            _io.Write(F("memory", "memory.use_hierarchy"), uh ? "1" : "0");
        if (m.DisableOomKiller is { } oom)
            _io.Write(F("memory", "memory.oom_control"), oom ? "1" : "0");
    }

    private void WriteCpu(CpuResources c)
    {
        if (c.Shares is { } shares and not 0)
        {
            _io.Write(F("cpu", "cpu.shares"), N(shares));
            // The kernel clamps out-of-range shares silently; read back so a clamp is reported, not hidden.
            var actual = CgroupStatsReader.ReadSingle(_io, F("cpu", "cpu.shares"));
            if (actual != shares)
                throw new CgroupException($"cgroup cpu.shares={shares}: the kernel set {actual} (allowed range {CgroupValidation.MinShares}..{CgroupValidation.MaxShares})",
                    F("cpu", "cpu.shares"), Errno.ERANGE);
        }
        WritePair(F("cpu", "cpu.cfs_period_us"), c.Period is { } p and not 0 ? N(p) : null,
                  F("cpu", "cpu.cfs_quota_us"), c.Quota is { } q and not 0 ? N(q) : null);
        if (c.Burst is { } burst)
        {
            if (Has("cpu", "cpu.cfs_burst_us"))
                _io.Write(F("cpu", "cpu.cfs_burst_us"), N(burst));
            else if (burst != 0)
                throw new CgroupException($"cgroup cpu.cfs_burst_us={burst}: not supported by this kernel", F("cpu", "cpu.cfs_burst_us"), Errno.ENOENT);
        }
        WritePair(F("cpu", "cpu.rt_period_us"), c.RealtimePeriod is { } rp and not 0 ? N(rp) : null,
                  F("cpu", "cpu.rt_runtime_us"), c.RealtimeRuntime is { } rr and not 0 ? N(rr) : null);
        if (c.Idle is { } idle)
        {
            if (Has("cpu", "cpu.idle"))
                _io.Write(F("cpu", "cpu.idle"), N(idle));
            else if (idle != 0)
                throw new CgroupException($"cgroup cpu.idle={idle}: not supported by this kernel", F("cpu", "cpu.idle"), Errno.ENOENT);
        }
    }

    /// <summary>
    /// Writes a period and its budget. Period goes first (the usual case: the budget must fit the new
    /// period); if the kernel rejects the period against the old budget, the budget goes first instead.
    /// </summary>
    private void WritePair(string periodFile, string? period, string budgetFile, string? budget)
    {
        if (period is null)
        {
            if (budget is not null)
                _io.Write(budgetFile, budget);
            return;
        }
        try
        {
            _io.Write(periodFile, period);
        }
        catch (CgroupException e) when (e.Errno == Errno.EINVAL && budget is not null)
        {
            _io.Write(budgetFile, budget);
            _io.Write(periodFile, period);
            return;
        }
        if (budget is not null)
            _io.Write(budgetFile, budget);
    }

    private void WriteBlkio(BlockIoResources b)
    {
        // Kernels with BFQ instead of CFQ name the weight files blkio.bfq.*.
        string WeightFile(string name) => Has("blkio", "blkio." + name) ? F("blkio", "blkio." + name) : F("blkio", "blkio.bfq." + name);
        if (b.Weight is { } w and not 0)
            _io.Write(WeightFile("weight"), N(w));
        if (b.LeafWeight is { } lw and not 0)
            _io.Write(WeightFile("leaf_weight"), N(lw));
        foreach (var d in b.WeightDevices)
        {
            if (d.Weight is { } dw and not 0)
                _io.Write(WeightFile("weight_device"), $"{d.Major}:{d.Minor} {dw}");
            if (d.LeafWeight is { } dlw and not 0)
                _io.Write(WeightFile("leaf_weight_device"), $"{d.Major}:{d.Minor} {dlw}");
        }
        foreach (var (file, list) in new[]
                 {
                     ("blkio.throttle.read_bps_device", b.ThrottleReadBpsDevices),
                     ("blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevices),
                     ("blkio.throttle.read_iops_device", b.ThrottleReadIopsDevices),
                     ("blkio.throttle.write_iops_device", b.ThrottleWriteIopsDevices),
                 })
            foreach (var d in list)
                _io.Write(F("blkio", file), $"{d.Major}:{d.Minor} {d.Rate}");
    }

    public IReadOnlyList<int> GetPids(bool recursive = true)
    {
        // Every hierarchy holds the same processes; the devices hierarchy is the one a container always has.
        var dir = Path("devices") ?? Dirs.FirstOrDefault()
            ?? throw new CgroupException("cgroup: no hierarchy to read pids from");
        return CgroupTree.ReadPids(_io, dir, recursive);
    }

    public FreezerState GetFreezerState()
    {
        if (Path("freezer") is not { } dir)
            return FreezerState.Undefined;
        var text = _io.ReadOptional(System.IO.Path.Combine(dir, "freezer.state"))?.Trim();
        return text switch
        {
            "FROZEN" => FreezerState.Frozen,
            "FREEZING" => FreezerState.Freezing,
            "THAWED" => FreezerState.Thawed,
            null => FreezerState.Undefined,
            _ => throw new CgroupException($"cgroup {dir}/freezer.state: unexpected state \"{text}\"", dir),
        };
    }

    public void Freeze(TimeSpan timeout)
    {
        var file = FreezerFile();
        _io.Write(file, "FROZEN");
        // FREEZING means some task has not stopped yet; writing FROZEN again makes the kernel retry them.
        if (CgroupTree.Poll(_io, timeout, () => GetFreezerState() == FreezerState.Frozen, () => _io.Write(file, "FROZEN")))
            return;
        var state = GetFreezerState();
        // Never leave a cgroup half frozen: some of its tasks would be stuck without anyone knowing.
        _io.Write(file, "THAWED");
        throw new CgroupException($"cgroup freeze {file}: still {state.ToString().ToUpperInvariant()} after {timeout.TotalMilliseconds:0} ms; thawed it back",
            file, Errno.ETIMEDOUT);
    }

    public void Thaw(TimeSpan timeout)
    {
        var file = FreezerFile();
        _io.Write(file, "THAWED");
        if (!CgroupTree.Poll(_io, timeout, () => GetFreezerState() == FreezerState.Thawed, () => _io.Write(file, "THAWED")))
            throw new CgroupException($"cgroup thaw {file}: still {GetFreezerState().ToString().ToUpperInvariant()} after {timeout.TotalMilliseconds:0} ms",
                file, Errno.ETIMEDOUT);
    }

    private string FreezerFile() =>
        Path("freezer") is { } dir
            ? System.IO.Path.Combine(dir, "freezer.state")
            : throw new CgroupException("cgroup freeze: the freezer controller is not mounted");

    public void Destroy() => CgroupTree.RemoveAll(_io, Dirs);

    public CgroupStats GetStats()
    {
        var s = new CgroupStats();
        FillStats(s);
        return s;
    }

    internal void FillStats(CgroupStats s)
    {
        bool Ok(string c, out string dir) => (dir = Path(c)!) is not null && _io.DirectoryExists(dir);
        if (Ok("cpu", out var d)) CgroupStatsReader.ReadV1Cpu(_io, d, s);
        if (Ok("cpuacct", out d)) CgroupStatsReader.ReadV1Cpuacct(_io, d, s);
        if (Ok("cpuset", out d)) CgroupStatsReader.ReadV1Cpuset(_io, d, s);
        if (Ok("memory", out d)) CgroupStatsReader.ReadV1Memory(_io, d, s);
        if (Ok("pids", out d)) CgroupStatsReader.ReadV1Pids(_io, d, s);
        if (Ok("blkio", out d)) CgroupStatsReader.ReadV1Blkio(_io, d, s);
        if (Ok("hugetlb", out d)) CgroupStatsReader.ReadV1Hugetlb(_io, d, s);
    }
}

using System.Globalization;
using Supervisor.Linux;
using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Cgroups;

/// <summary>
/// cgroup v2: one directory in the unified hierarchy. <c>owned</c> lists the controllers this manager drives
/// (all of cgroup.controllers on a pure v2 host; in hybrid mode only those no v1 hierarchy claims).
/// </summary>
internal sealed class V2CgroupManager : ICgroupManager
{
    private readonly string _dir;
    private readonly HashSet<string> _owned;
    private readonly CgroupIo _io;
    private readonly bool _pureV2;
    private List<string> _created = [];

    /// <param name="ownsDevices">
    /// Device rules are enforced here, by an eBPF program attached to the directory: always on a pure v2
    /// host, and in hybrid mode when no v1 devices hierarchy is mounted. cgroup2 needs no controller for
    /// this (BPF_CGROUP_DEVICE is an attach point of every cgroup2 directory).
    /// </param>
    public V2CgroupManager(string dir, IEnumerable<string> owned, CgroupIo io, bool pureV2, bool ownsDevices = false)
    {
        _dir = dir;
        _owned = new HashSet<string>(owned, StringComparer.Ordinal);
        _io = io;
        _pureV2 = pureV2;
        _ownsDevices = pureV2 || ownsDevices;
    }

    private readonly bool _ownsDevices;

    public IReadOnlyDictionary<string, string> Paths => new Dictionary<string, string> { [CgroupPaths.UnifiedKey] = _dir };

    public string Directory => _dir;

    public string? Path(string controller) => controller == CgroupPaths.UnifiedKey || VersionOf(controller) is not null ? _dir : null;

    /// <summary>
    /// v2 controllers are those owned here, plus "devices" when the device program is enforced here (it has
    /// no controller file on v2).
    /// </summary>
    public CgroupVersion? VersionOf(string controller) =>
        controller == CgroupPaths.UnifiedKey || _owned.Contains(controller == "blkio" ? "io" : controller) || (controller == "devices" && _ownsDevices)
            ? CgroupVersion.V2
            : null;

    public bool Exists() => _io.DirectoryExists(_dir);

    public IReadOnlyList<string> Validate(Resources resources) => CgroupValidation.Validate(resources, VersionOf);

    public void Create(Resources resources)
    {
        V1CgroupManager.ThrowIfInvalid(Validate(resources));
        CreateCore(resources);
    }

    /// <summary>Create without validation (the hybrid manager validates against the whole layout).</summary>
    internal void CreateCore(Resources resources)
    {
        _created = [];
        try
        {
            _created = CgroupTree.MakeAll(_io, _dir);
            EnableControllers(resources);
            Write(resources);
        }
        catch
        {
            UndoCreate();
            throw;
        }
    }

    internal void UndoCreate()
    {
        CgroupTree.RemoveCreated(_io, _created);
        _created = [];
    }

    /// <summary>
    /// A v2 controller's files appear in a cgroup only when its parent lists the controller in
    /// cgroup.subtree_control, so each new level's parent delegates the controllers we drive (those it has).
    /// On a pure v2 host that is every owned controller (stats need them too); in hybrid mode only those the
    /// resources use, because delegating at the cgroup2 root changes a host-wide setting.
    /// </summary>
    private void EnableControllers(Resources r)
    {
        var wanted = _pureV2 ? _owned : Needed(r).Where(_owned.Contains).ToHashSet(StringComparer.Ordinal);
        if (wanted.Count == 0)
            return;
        var levels = _created.Count > 0 ? _created : [_dir];
        foreach (var dir in levels)
        {
            var parent = System.IO.Path.GetDirectoryName(dir)!;
            var available = Tokens(_io.ReadOptional(System.IO.Path.Combine(parent, "cgroup.controllers")));
            var enabled = Tokens(_io.ReadOptional(System.IO.Path.Combine(parent, "cgroup.subtree_control")));
            var add = wanted.Where(c => available.Contains(c) && !enabled.Contains(c)).Order(StringComparer.Ordinal).ToList();
            if (add.Count > 0)
                _io.Write(System.IO.Path.Combine(parent, "cgroup.subtree_control"), string.Join(' ', add.Select(c => "+" + c)));
        }
    }

    /// <summary>The v2 controllers whose files <paramref name="r"/> writes.</summary>
    internal static IEnumerable<string> Needed(Resources r)
    {
        if (r.Memory is not null) yield return "memory";
        if (r.Cpu is { } c)
        {
            if (c.Shares is not null || c.Quota is not null || c.Period is not null || c.Burst is not null || c.Idle is not null)
                yield return "cpu";
            if (c.Cpus is not null || c.Mems is not null)
                yield return "cpuset";
        }
        if (r.Pids is not null) yield return "pids";
        if (r.BlockIo is not null) yield return "io";
        if (r.HugepageLimits.Count > 0) yield return "hugetlb";
        foreach (var key in r.Unified.Keys)
            if (key.IndexOf('.') is > 0 and var dot)
                yield return key[..dot];
    }

    private static HashSet<string> Tokens(string? text) =>
        new((text ?? "").Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Select(t => t.TrimStart('+')), StringComparer.Ordinal);

    public void Apply(int pid) =>
        _io.Write(System.IO.Path.Combine(_dir, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));

    public void Set(Resources resources)
    {
        V1CgroupManager.ThrowIfInvalid(Validate(resources));
        Write(resources);
    }

    internal void SetCore(Resources resources) => Write(resources);

    private string F(string file) => System.IO.Path.Combine(_dir, file);

    private static string N(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string N(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Max(long v) => v == -1 ? "max" : N(v);

    /// <summary>v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000), the mapping runc and the OCI spec use.</summary>
    internal static ulong SharesToWeight(ulong shares) => 1 + ((shares - 2) * 9999) / 262142;

    /// <summary>v1 blkio.weight (10..1000) to v2 io.weight (1..10000).</summary>
    internal static ulong BlkioWeightToIoWeight(ulong weight) => 1 + ((weight - 10) * 9999) / 990;

    private void Write(Resources r)
    {
        // An update without device rules keeps the program in place; with rules it replaces it whole.
        if (_ownsDevices && r.Devices.Count > 0)
            _io.AttachDeviceProgram(_dir, DeviceFilter.Compile(r.Devices));
        if (r.Memory is { } m && _owned.Contains("memory"))
        {
            if (m.Limit is { } limit and not 0)
                _io.Write(F("memory.max"), Max(limit));
            if (m.Reservation is { } res and not 0)
                _io.Write(F("memory.low"), Max(res));
            if (m.Swap is { } swap and not 0)
            {
                // v1 memsw counts memory + swap; v2 swap.max counts swap alone.
                string value = swap == -1 ? "max" : N(swap - (m.Limit ?? 0));
                if (!_io.FileExists(F("memory.swap.max")))
                    throw new CgroupException($"cgroup memory.swap.max={value}: swap accounting is disabled on this kernel", F("memory.swap.max"), Errno.ENOENT);
                _io.Write(F("memory.swap.max"), value);
            }
        }
        if (r.Cpu is { } c)
        {
            if (_owned.Contains("cpu"))
            {
                if (c.Shares is { } shares and not 0)
                    _io.Write(F("cpu.weight"), N(SharesToWeight(shares)));
                if (c.Quota is not null and not 0 || c.Period is not null and not 0)
                {
                    string quota = c.Quota is { } q and > 0 ? N(q) : "max";
                    _io.Write(F("cpu.max"), c.Period is { } p and not 0 ? $"{quota} {p}" : quota);
                }
                if (c.Burst is { } burst)
                    _io.Write(F("cpu.max.burst"), N(burst));
                if (c.Idle is { } idle)
                    _io.Write(F("cpu.idle"), N(idle));
            }
            if (_owned.Contains("cpuset"))
            {
                if (c.Cpus is { } cpus)
                    _io.Write(F("cpuset.cpus"), cpus);
                if (c.Mems is { } mems)
                    _io.Write(F("cpuset.mems"), mems);
            }
        }
        if (r.Pids is { } pids && _owned.Contains("pids"))
            _io.Write(F("pids.max"), pids.Limit > 0 ? N(pids.Limit) : "max");
        if (r.BlockIo is { } b && _owned.Contains("io"))
            WriteIo(b);
        if (_owned.Contains("hugetlb"))
            foreach (var h in r.HugepageLimits)
                _io.Write(F($"hugetlb.{h.Pagesize}.max"), N(h.Limit));
        foreach (var (key, value) in r.Unified.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!_io.FileExists(F(key)))
                throw new CgroupException($"cgroup {key}={value}: no such file in {_dir} (controller not enabled?)", F(key), Errno.ENOENT);
            _io.Write(F(key), value);
        }
    }

    private void WriteIo(BlockIoResources b)
    {
        // With BFQ the kernel exposes io.bfq.weight on the v1 scale (1..1000); otherwise io.weight (1..10000).
        bool bfq = _io.FileExists(F("io.bfq.weight"));
        string weightFile = bfq ? F("io.bfq.weight") : F("io.weight");
        ulong Scale(ushort w) => bfq ? w : BlkioWeightToIoWeight(w);
        if (b.Weight is { } w and not 0)
            _io.Write(weightFile, bfq ? N(Scale(w)) : $"default {Scale(w)}");
        foreach (var d in b.WeightDevices)
            if (d.Weight is { } dw and not 0)
                _io.Write(weightFile, $"{d.Major}:{d.Minor} {Scale(dw)}");

        var lines = new SortedDictionary<(long, long), List<string>>();
        void Add(IEnumerable<ThrottleDevice> list, string key)
        {
            foreach (var d in list)
            {
                if (!lines.TryGetValue((d.Major, d.Minor), out var parts))
                    lines[(d.Major, d.Minor)] = parts = [];
                parts.Add($"{key}={d.Rate}");
            }
        }
        Add(b.ThrottleReadBpsDevices, "rbps");
        Add(b.ThrottleWriteBpsDevices, "wbps");
        Add(b.ThrottleReadIopsDevices, "riops");
        Add(b.ThrottleWriteIopsDevices, "wiops");
        foreach (var ((maj, min), parts) in lines)
            _io.Write(F("io.max"), $"{maj}:{min} {string.Join(' ', parts)}");
    }

    public IReadOnlyList<int> GetPids(bool recursive = true) => CgroupTree.ReadPids(_io, _dir, recursive);

    public FreezerState GetFreezerState()
    {
        var want = _io.ReadOptional(F("cgroup.freeze"))?.Trim();
        if (want is null)
            return FreezerState.Undefined;
        bool frozen = ReadEvents().GetValueOrDefault("frozen") == 1;
        return (want, frozen) switch
        {
            ("1", true) => FreezerState.Frozen,
            ("1", false) => FreezerState.Freezing,
            _ => FreezerState.Thawed,
        };
    }

    private Dictionary<string, ulong> ReadEvents() => CgroupStatsReader.ReadKeyValues(_io, F("cgroup.events"));

    public void Freeze(TimeSpan timeout)
    {
        RequireFreezer();
        _io.Write(F("cgroup.freeze"), "1");
        if (CgroupTree.Poll(_io, timeout, () => ReadEvents().GetValueOrDefault("frozen") == 1))
            return;
        _io.Write(F("cgroup.freeze"), "0");
        throw new CgroupException($"cgroup freeze {F("cgroup.freeze")}: cgroup.events did not report frozen after {timeout.TotalMilliseconds:0} ms; thawed it back",
            F("cgroup.freeze"), Errno.ETIMEDOUT);
    }

    public void Thaw(TimeSpan timeout)
    {
        RequireFreezer();
        _io.Write(F("cgroup.freeze"), "0");
        if (!CgroupTree.Poll(_io, timeout, () => ReadEvents().GetValueOrDefault("frozen") == 0))
            throw new CgroupException($"cgroup thaw {F("cgroup.freeze")}: cgroup.events still reports frozen after {timeout.TotalMilliseconds:0} ms",
                F("cgroup.freeze"), Errno.ETIMEDOUT);
    }

    private void RequireFreezer()
    {
        if (!_io.FileExists(F("cgroup.freeze")))
            throw new CgroupException($"cgroup freeze {_dir}: no cgroup.freeze (the kernel is older than 5.2 or the cgroup is gone)", F("cgroup.freeze"), Errno.ENOENT);
    }

    public void Destroy() => CgroupTree.RemoveAll(_io, [_dir]);

    public CgroupStats GetStats()
    {
        var s = new CgroupStats();
        FillStats(s);
        return s;
    }

    internal void FillStats(CgroupStats s)
    {
        if (!_io.DirectoryExists(_dir))
            return;
        // cpu.stat's usage fields exist in every v2 cgroup (the core accounts CPU time without the cpu
        // controller), but in hybrid mode v1 cpuacct is the source.
        if (_pureV2 || _owned.Contains("cpu")) CgroupStatsReader.ReadV2Cpu(_io, _dir, s);
        if (_owned.Contains("cpuset")) CgroupStatsReader.ReadV2Cpuset(_io, _dir, s);
        if (_owned.Contains("memory")) CgroupStatsReader.ReadV2Memory(_io, _dir, s);
        if (_owned.Contains("pids")) CgroupStatsReader.ReadV2Pids(_io, _dir, s);
        if (_owned.Contains("io")) CgroupStatsReader.ReadV2Io(_io, _dir, s);
        if (_owned.Contains("hugetlb")) CgroupStatsReader.ReadV2Hugetlb(_io, _dir, s);
    }
}

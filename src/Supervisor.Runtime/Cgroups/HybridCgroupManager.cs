using Supervisor.Runtime.Configs;

namespace Supervisor.Runtime.Cgroups;

/// <summary>
/// v1 hierarchies plus the unified hierarchy: each controller is driven where it lives. The process also
/// joins the unified directory (as runc does), so tools that look at cgroup2 membership find it.
/// </summary>
internal sealed class HybridCgroupManager : ICgroupManager
{
    private readonly V1CgroupManager _v1;
    private readonly V2CgroupManager _v2;

    public HybridCgroupManager(V1CgroupManager v1, V2CgroupManager v2)
    {
        _v1 = v1;
        _v2 = v2;
        var all = new Dictionary<string, string>(v1.Paths, StringComparer.Ordinal) { [CgroupPaths.UnifiedKey] = v2.Directory };
        Paths = all;
    }

    public IReadOnlyDictionary<string, string> Paths { get; }

    public string? Path(string controller) => _v1.Path(controller) ?? _v2.Path(controller);

    public CgroupVersion? VersionOf(string controller) => _v1.VersionOf(controller) ?? _v2.VersionOf(controller);

    public bool Exists() => _v1.Exists() && _v2.Exists();

    public IReadOnlyList<string> Validate(Resources resources) => CgroupValidation.Validate(resources, VersionOf);

    public void Create(Resources resources)
    {
        V1CgroupManager.ThrowIfInvalid(Validate(resources));
        _v1.CreateCore(resources);
        try
        {
            _v2.CreateCore(resources);
        }
        catch
        {
            _v1.UndoCreate();
            throw;
        }
    }

    public void Apply(int pid)
    {
        _v1.Apply(pid);
        _v2.Apply(pid);
    }

    public void Set(Resources resources)
    {
        V1CgroupManager.ThrowIfInvalid(Validate(resources));
        _v1.SetCore(resources);
        _v2.SetCore(resources);
    }

    public IReadOnlyList<int> GetPids(bool recursive = true) => _v1.GetPids(recursive);

    private bool FreezerOnV1 => _v1.VersionOf("freezer") is not null;

    public void Freeze(TimeSpan timeout)
    {
        if (FreezerOnV1) _v1.Freeze(timeout); else _v2.Freeze(timeout);
    }

    public void Thaw(TimeSpan timeout)
    {
        if (FreezerOnV1) _v1.Thaw(timeout); else _v2.Thaw(timeout);
    }

    public FreezerState GetFreezerState() => FreezerOnV1 ? _v1.GetFreezerState() : _v2.GetFreezerState();

    public void Destroy()
    {
        CgroupException? first = null;
        try
        {
            _v1.Destroy();
        }
        catch (CgroupException e)
        {
            first = e;
        }
        try
        {
            _v2.Destroy();
        }
        catch (CgroupException e) when (first is not null)
        {
            throw new CgroupException(first.Message + "; " + e.Message, first.FilePath, first.Errno);
        }
        if (first is not null)
            throw first;
    }

    public CgroupStats GetStats()
    {
        var s = new CgroupStats();
        _v1.FillStats(s);
        _v2.FillStats(s);
        return s;
    }
}

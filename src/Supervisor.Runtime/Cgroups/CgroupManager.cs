namespace Supervisor.Runtime.Cgroups;

/// <summary>Builds the <see cref="ICgroupManager"/> that fits the host's layout.</summary>
public static class CgroupManager
{
    /// <summary>
    /// A manager over already-resolved <paramref name="paths"/> (from <see cref="CgroupPaths.Resolve"/>, or
    /// read back from a container's saved state).
    /// </summary>
    public static ICgroupManager Create(CgroupLayout layout, IReadOnlyDictionary<string, string> paths) =>
        Create(layout, paths, CgroupIo.Real);

    /// <summary>Resolves the container's paths and builds its manager (nothing is created on disk yet).</summary>
    public static ICgroupManager ForContainer(CgroupLayout layout, string? cgroupsPath, string containerId) =>
        Create(layout, CgroupPaths.Resolve(layout, cgroupsPath, containerId));

    internal static ICgroupManager Create(CgroupLayout layout, IReadOnlyDictionary<string, string> paths, CgroupIo io)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(paths);
        var v1Paths = paths.Where(kv => kv.Key != CgroupPaths.UnifiedKey).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        paths.TryGetValue(CgroupPaths.UnifiedKey, out var unifiedDir);
        switch (layout.Mode)
        {
            case CgroupMode.V1:
                return new V1CgroupManager(v1Paths, io);
            case CgroupMode.V2:
                return new V2CgroupManager(unifiedDir ?? throw new ArgumentException("cgroup paths have no unified directory", nameof(paths)),
                    layout.Unified!.Controllers, io, pureV2: true);
            default:
                var v1 = new V1CgroupManager(v1Paths, io);
                if (unifiedDir is null)
                    return v1;
                return new HybridCgroupManager(v1, new V2CgroupManager(unifiedDir, layout.Unified!.Controllers, io, pureV2: false));
        }
    }
}

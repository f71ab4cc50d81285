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

    /// <summary>
    /// A rootless container's manager: only the hierarchies whose directory (or nearest existing ancestor)
    /// <paramref name="canWrite"/> accepts, i.e. the ones delegated to the caller. With none it manages no
    /// cgroup at all, and any limit fails validation because its controller is not available.
    /// </summary>
    public static ICgroupManager ForRootless(CgroupLayout layout, string? cgroupsPath, string containerId, Func<string, bool> canWrite) =>
        Create(layout, Rootless.DelegatedCgroups(CgroupPaths.Resolve(layout, cgroupsPath, containerId), canWrite));

    internal static ICgroupManager Create(CgroupLayout layout, IReadOnlyDictionary<string, string> paths, CgroupIo io)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(paths);
        // No hierarchy at all (a rootless container without delegation): a manager over nothing.
        if (paths.Count == 0)
            return new V1CgroupManager(new Dictionary<string, string>(StringComparer.Ordinal), io);
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
                // Without a v1 devices hierarchy the device rules go to the cgroup2 directory as a program.
                return new HybridCgroupManager(v1, new V2CgroupManager(unifiedDir, layout.Unified!.Controllers, io, pureV2: false,
                    ownsDevices: !v1Paths.ContainsKey("devices")));
        }
    }
}

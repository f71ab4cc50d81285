using Supervisor.Runtime.Cgroups;

namespace Supervisor.Runtime.Rootfs;

/// <summary>The container's own directory in each v1 hierarchy, named as the host names its mount.</summary>
public static class CgroupMountSources
{
    public static IReadOnlyList<CgroupMountSource> For(CgroupLayout layout, ICgroupManager cgroups)
    {
        var result = new List<CgroupMountSource>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (controller, hierarchy) in layout.V1.OrderBy(kv => kv.Value.Mountpoint, StringComparer.Ordinal))
        {
            if (!seen.Add(hierarchy.Mountpoint) || cgroups.Path(controller) is not { } dir)
                continue;
            var name = Path.GetFileName(hierarchy.Mountpoint.TrimEnd('/'));
            var aliases = hierarchy.Controllers
                .Select(c => c.StartsWith("name=", StringComparison.Ordinal) ? c[5..] : c)
                .Where(a => a != name)
                .ToList();
            result.Add(new CgroupMountSource(name, dir, aliases));
        }
        return result;
    }
}

namespace Supervisor.Runtime.Cgroups;

/// <summary>
/// Turns an OCI cgroupsPath into one directory per hierarchy. Keys are v1 controller names (co-mounted
/// controllers each get the shared directory; named hierarchies appear as "name=systemd") and
/// <see cref="UnifiedKey"/> for the cgroup2 directory.
/// </summary>
public static class CgroupPaths
{
    /// <summary>The key of the cgroup2 directory in a paths map (runc uses the empty string too).</summary>
    public const string UnifiedKey = "";

    /// <summary>
    /// Absolute <paramref name="cgroupsPath"/>: taken from the root of every hierarchy. Relative: nested under
    /// this process's own cgroup in each hierarchy. Null or empty: a relative path named after the container.
    /// </summary>
    /// <exception cref="ArgumentException">The path contains NUL or climbs above its starting point with "..".</exception>
    public static IReadOnlyDictionary<string, string> Resolve(CgroupLayout layout, string? cgroupsPath, string containerId)
    {
        ArgumentNullException.ThrowIfNull(layout);
        string rel;
        bool absolute;
        if (string.IsNullOrEmpty(cgroupsPath))
        {
            if (string.IsNullOrEmpty(containerId) || containerId.Contains('/') || containerId.Contains('\0') ||
                containerId is "." or "..")
                throw new ArgumentException($"cgroup path: container id \"{containerId}\" cannot name a cgroup", nameof(containerId));
            rel = containerId;
            absolute = false;
        }
        else
        {
            absolute = cgroupsPath.StartsWith('/');
            rel = Normalize(cgroupsPath);
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (controller, h) in layout.V1)
        {
            string baseDir = absolute ? h.Mountpoint : h.OwnDirectory;
            result[controller] = CgroupLayout.JoinUnder(baseDir, rel);
        }
        if (layout.Unified is { } u)
        {
            string baseDir = absolute ? u.Mountpoint : u.OwnDirectory;
            result[UnifiedKey] = CgroupLayout.JoinUnder(baseDir, rel);
        }
        return result;
    }

    /// <summary>Collapses "." and ".." segments; rejects NUL and any ".." that would leave the base.</summary>
    internal static string Normalize(string path)
    {
        if (path.Contains('\0'))
            throw new ArgumentException("cgroup path contains a NUL byte", nameof(path));
        var parts = new List<string>();
        foreach (var seg in path.Split('/'))
        {
            if (seg.Length == 0 || seg == ".")
                continue;
            if (seg == "..")
            {
                if (parts.Count == 0)
                    throw new ArgumentException($"cgroup path \"{path}\" escapes its hierarchy with \"..\"", nameof(path));
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(seg);
        }
        if (parts.Count == 0)
            throw new ArgumentException($"cgroup path \"{path}\" names the hierarchy root", nameof(path));
        return string.Join('/', parts);
    }
}

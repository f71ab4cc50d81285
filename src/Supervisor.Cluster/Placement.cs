namespace Supervisor.Cluster;

/// <summary>
/// Placement decisions, pure so that they are tested without an ActorSystem. A node fits when it has the
/// constraint's role, every constraint label with the same value, and the constraint's address if one is given; among the fitting nodes the one with
/// the fewest running containers wins, then the one with the most free memory, then the lowest address
/// (ordinal), so that the same loads always give the same answer.
/// </summary>
public static class Placement
{
    public static bool Fits(NodeLoad node, PlacementConstraints constraints)
    {
        if (constraints.Role is { Length: > 0 } role && !node.Roles.Contains(role, StringComparer.Ordinal))
            return false;
        if (constraints.Node is { Length: > 0 } address && !string.Equals(node.Address, address, StringComparison.Ordinal))
            return false;
        foreach (var (key, value) in constraints.Labels)
        {
            if (!node.Labels.TryGetValue(key, out var have) || !string.Equals(have, value, StringComparison.Ordinal))
                return false;
        }
        return true;
    }

    /// <summary>The nodes that fit, best first.</summary>
    public static IReadOnlyList<NodeLoad> Rank(IEnumerable<NodeLoad> nodes, PlacementConstraints constraints, IReadOnlyCollection<string>? exclude = null) =>
        nodes.Where(n => exclude is null || !exclude.Contains(n.Address))
            .Where(n => Fits(n, constraints))
            .OrderBy(n => n.RunningContainers)
            .ThenByDescending(n => n.FreeMemoryBytes)
            .ThenBy(n => n.Address, StringComparer.Ordinal)
            .ToList();

    /// <summary>The best node, or null with a reason fit for a user when none fits.</summary>
    public static (NodeLoad? Node, string Reason) Choose(IReadOnlyCollection<NodeLoad> nodes, PlacementConstraints constraints, IReadOnlyCollection<string>? exclude = null)
    {
        var ranked = Rank(nodes, constraints, exclude);
        if (ranked.Count > 0)
            return (ranked[0], $"{ranked[0].RunningContainers} running, {ranked[0].FreeMemoryBytes} bytes free");
        if (nodes.Count == 0)
            return (null, "no node has reported its load yet");
        return (null, $"none of {nodes.Count} nodes fits {Describe(constraints)}" +
            (exclude is { Count: > 0 } ? $" (excluded: {string.Join(", ", exclude)})" : ""));
    }

    public static string Describe(PlacementConstraints c)
    {
        var parts = new List<string>();
        if (c.Role is { Length: > 0 } r)
            parts.Add("role " + r);
        if (c.Node is { Length: > 0 } n)
            parts.Add("node " + n);
        parts.AddRange(c.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
        return parts.Count == 0 ? "no constraints" : string.Join(", ", parts);
    }
}

/// <summary>Reads MemAvailable from /proc/meminfo: the kernel's estimate of memory a new workload can get without swapping.</summary>
public static class MemInfo
{
    public static long Available(string path = "/proc/meminfo")
    {
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>MemAvailable in bytes (the file gives kB), or 0 when the line is missing.</summary>
    public static long Parse(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                continue;
            var fields = line["MemAvailable:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 1 && long.TryParse(fields[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var kb))
                return fields.Length >= 2 && fields[1] == "kB" ? kb * 1024 : kb;
        }
        return 0;
    }
}

namespace Supervisor.Runtime.Paths;

/// <summary>
/// Resolves a path as if <c>root</c> were "/": every symlink met on the way is followed, but an absolute
/// link target restarts at <c>root</c> and ".." never climbs above it, so the result is always inside
/// <c>root</c> (the semantics of openat2's RESOLVE_IN_ROOT, done lexically in user space). Components that
/// do not exist are appended as they are.
///
/// The result is only as good as the moment it was computed: if something that can write inside
/// <c>root</c> swaps a component for a symlink afterwards, a later open by path follows it. Callers use it
/// before the container runs, or accept that race for reads that a running container could influence.
/// </summary>
public static class InRootResolver
{
    /// <summary>Linux's limit on symlinks followed in one lookup (MAXSYMLINKS).</summary>
    public const int MaxLinkHops = 40;

    /// <summary>Returns the host path of <paramref name="path"/> (relative or absolute) inside <paramref name="root"/>.</summary>
    /// <exception cref="IOException">More than <see cref="MaxLinkHops"/> symlinks were followed (ELOOP).</exception>
    public static string Resolve(string root, string path)
    {
        var rootFull = Path.GetFullPath(root);
        if (rootFull.Length > 1) rootFull = rootFull.TrimEnd('/');
        var resolved = new List<string>();
        var pending = new Stack<string>();
        Push(pending, path);
        var hops = 0;
        while (pending.Count > 0)
        {
            var c = pending.Pop();
            if (c.Length == 0 || c == ".") continue;
            if (c == "..")
            {
                if (resolved.Count > 0) resolved.RemoveAt(resolved.Count - 1);
                continue;
            }
            var candidate = Join(rootFull, resolved, c);
            string? target;
            try
            {
                target = new FileInfo(candidate).LinkTarget;
            }
            catch (IOException)
            {
                target = null;
            }
            catch (UnauthorizedAccessException)
            {
                target = null;
            }
            if (target is null)
            {
                resolved.Add(c);
                continue;
            }
            if (++hops > MaxLinkHops)
                throw new IOException($"too many levels of symbolic links resolving {path} in {rootFull}");
            if (target.StartsWith('/')) resolved.Clear();
            Push(pending, target);
        }
        return resolved.Count == 0 ? rootFull : Join(rootFull, resolved, null);
    }

    private static void Push(Stack<string> pending, string path)
    {
        var parts = path.Split('/');
        for (var i = parts.Length - 1; i >= 0; i--) pending.Push(parts[i]);
    }

    private static string Join(string root, List<string> parts, string? last)
    {
        var sb = new System.Text.StringBuilder(root == "/" ? "" : root);
        foreach (var p in parts) sb.Append('/').Append(p);
        if (last is not null) sb.Append('/').Append(last);
        return sb.Length == 0 ? "/" : sb.ToString();
    }
}

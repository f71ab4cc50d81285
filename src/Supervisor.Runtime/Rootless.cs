using System.Globalization;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Validation;

namespace Supervisor.Runtime;

/// <summary>
/// Rootless mode: the runtime runs as an ordinary user. The kernel then allows only what an unprivileged
/// process may do: create a user namespace in which the caller's own uid and gid (and nothing else) are
/// mapped, create the other namespaces inside it, write cgroups only where the cgroup directory was
/// delegated to the caller, and never mknod a device (a user namespace cannot create device nodes that
/// work, so devices are bind-mounted from the host and the host's permissions on them decide access).
/// </summary>
public static class Rootless
{
    /// <summary>
    /// Decides rootless mode from the --rootless flag: "true", "false", or "auto" (null or empty too),
    /// which means rootless exactly when the effective uid is not 0.
    /// </summary>
    public static bool Resolve(string? mode, uint euid) => mode switch
    {
        null or "" or "auto" => euid != 0,
        "true" => true,
        "false" => false,
        _ => throw new RuntimeException($"invalid --rootless value \"{mode}\": use auto, true or false"),
    };

    /// <summary>
    /// The default state root: /run/supervisor for root; for a rootless caller $XDG_RUNTIME_DIR/supervisor
    /// (a per-user tmpfs the caller owns), else /tmp/supervisor-&lt;uid&gt;.
    /// </summary>
    public static string DefaultStateRoot(bool rootless, uint euid, string? xdgRuntimeDir)
    {
        if (!rootless)
            return RuntimeOptions.DefaultStateRoot;
        if (!string.IsNullOrEmpty(xdgRuntimeDir) && xdgRuntimeDir.StartsWith('/'))
            return Path.Combine(xdgRuntimeDir, "supervisor");
        return "/tmp/supervisor-" + euid.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Checks a config for rootless use by <paramref name="uid"/>/<paramref name="gid"/> and returns the
    /// config to create. A new user namespace is required; with no mappings, container root is mapped to
    /// the caller. Device cgroup rules are dropped: an unprivileged caller never owns a devices hierarchy,
    /// and inside its user namespace device nodes can only be host binds, which the host's file
    /// permissions already guard. Every other limit is checked against the delegated cgroups at create.
    /// </summary>
    /// <exception cref="ConfigException">The config needs privileges the caller does not have.</exception>
    public static ContainerConfig Adapt(ContainerConfig config, uint uid, uint gid)
    {
        var problems = new List<string>();
        var userNs = config.GetNamespace(NamespaceType.User);
        if (userNs is null)
        {
            problems.Add("a rootless container needs a user namespace (add {\"type\":\"user\"} to linux.namespaces)");
        }
        else if (!string.IsNullOrEmpty(userNs.Path))
        {
            problems.Add("a rootless container must create its own user namespace, not join " + userNs.Path);
        }

        var uidMaps = config.UidMappings;
        var gidMaps = config.GidMappings;
        if (uidMaps.Count == 0 && gidMaps.Count == 0)
        {
            uidMaps = [new IdMap(0, uid, 1)];
            gidMaps = [new IdMap(0, gid, 1)];
        }
        CheckOnlyCaller(uidMaps, uid, "uid", "linux.uidMappings", problems);
        CheckOnlyCaller(gidMaps, gid, "gid", "linux.gidMappings", problems);

        // Only ids mapped in the user namespace can become the process's identity.
        var user = config.Process.User;
        if (string.IsNullOrEmpty(user.Username))
        {
            if (!Maps(uidMaps, user.Uid))
                problems.Add($"process.user.uid {user.Uid} is not mapped in the rootless user namespace (only {Describe(uidMaps)})");
            if (!Maps(gidMaps, user.Gid))
                problems.Add($"process.user.gid {user.Gid} is not mapped in the rootless user namespace (only {Describe(gidMaps)})");
        }
        foreach (var g in user.AdditionalGids)
        {
            if (!Maps(gidMaps, g))
                problems.Add($"process.user.additionalGids: gid {g} is not mapped in the rootless user namespace");
        }

        // Namespaced sysctls are writable only in namespaces owned by the container's user namespace,
        // i.e. namespaces it creates; a joined one belongs to someone else.
        foreach (var key in config.Sysctl.Keys)
        {
            var ns = key.StartsWith("net.", StringComparison.Ordinal) ? NamespaceType.Network
                : key is "kernel.hostname" or "kernel.domainname" ? NamespaceType.Uts
                : NamespaceType.Ipc;
            if (config.HasNamespace(ns) && !config.CreatesNamespace(ns))
                problems.Add($"linux.sysctl[\"{key}\"]: a rootless container can only set it in a {ns.OciName()} namespace it creates");
        }

        if (config.Process.OomScoreAdj is < 0)
            problems.Add($"process.oomScoreAdj {config.Process.OomScoreAdj}: lowering the OOM score needs CAP_SYS_RESOURCE on the host");

        if (problems.Count > 0)
            throw new ConfigException("rootless container: " + problems[0], problems.Select(p => "rootless container: " + p).ToList());

        return config with
        {
            UidMappings = uidMaps,
            GidMappings = gidMaps,
            Cgroups = config.Cgroups with { Resources = config.Cgroups.Resources with { Devices = [] } },
        };
    }

    /// <summary>
    /// The cgroup directories (from <see cref="Cgroups.CgroupPaths.Resolve"/>) that the caller may use:
    /// those it can write to, or whose nearest existing ancestor it can write to (a delegated subtree).
    /// </summary>
    public static IReadOnlyDictionary<string, string> DelegatedCgroups(IReadOnlyDictionary<string, string> paths, Func<string, bool> canWrite)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, dir) in paths)
        {
            var probe = dir;
            while (!Directory.Exists(probe))
            {
                var parent = Path.GetDirectoryName(probe);
                if (string.IsNullOrEmpty(parent) || parent == probe)
                    break;
                probe = parent;
            }
            if (Directory.Exists(probe) && canWrite(probe))
                result[key] = dir;
        }
        return result;
    }

    private static void CheckOnlyCaller(IReadOnlyList<IdMap> maps, uint id, string what, string field, List<string> problems)
    {
        // Without CAP_SETUID in the parent namespace (or the setuid newuidmap helper) the kernel accepts
        // exactly one line, mapping the writer's own id with length 1.
        if (maps.Count != 1 || maps[0].HostId != id || maps[0].Size != 1)
            problems.Add($"{field} may only map the caller's {what} {id} (one entry of size 1), not {Describe(maps)}");
    }

    private static bool Maps(IReadOnlyList<IdMap> maps, uint containerId) =>
        maps.Any(m => containerId >= m.ContainerId && containerId - m.ContainerId < m.Size);

    private static string Describe(IReadOnlyList<IdMap> maps) =>
        maps.Count == 0 ? "nothing" : string.Join(", ", maps.Select(m => $"{m.ContainerId}->{m.HostId} size {m.Size}"));
}

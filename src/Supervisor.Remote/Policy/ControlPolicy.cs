using Supervisor.Remote.Security;
using Supervisor.Runtime.Oci;

namespace Supervisor.Remote.Policy;

/// <summary>
/// The policy gate: decides, before any side effect, whether a role may make a request. An admin may do
/// anything. An operator may run only ordinary containers, that is nothing that reaches into the host:
/// <list type="bullet">
/// <item>no capability beyond <see cref="PolicySettings.OperatorCapabilities"/>;</item>
/// <item>its own pid, mount, ipc, uts and network namespaces, and no namespace joined by path;</item>
/// <item>no bind mount from outside <see cref="PolicySettings.AllowedBindRoots"/>;</item>
/// <item>no extra device node and no device-cgroup allow rule (a wildcard one would open every device);</item>
/// <item>no hooks (they run on the host, as root, outside every namespace);</item>
/// <item>a seccomp profile, and a bundle and rootfs inside <see cref="PolicySettings.AllowedBundleRoots"/>;</item>
/// <item>checkpoint images only inside <see cref="PolicySettings.AllowedImageRoots"/>.</item>
/// </list>
/// Paths are compared after making them absolute and resolving symbolic links (through
/// <see cref="ResolvePath"/>), so `..` or a link inside an allowed root cannot point outside it.
/// </summary>
public sealed class ControlPolicy
{
    private static readonly string[] RequiredNamespaces = ["pid", "mount", "ipc", "uts", "network"];

    private readonly PolicySettings _settings;
    private readonly Func<string, string> _resolve;

    /// <param name="resolvePath">Maps an absolute path to its real path; the default resolves symbolic links on this host.</param>
    public ControlPolicy(PolicySettings settings, Func<string, string>? resolvePath = null)
    {
        _settings = settings;
        _resolve = resolvePath ?? ResolvePath;
    }

    public PolicySettings Settings => _settings;

    /// <summary>May <paramref name="role"/> run a container from <paramref name="spec"/>? <paramref name="bundleDir"/> is where relative paths of the spec point (null for an inline config).</summary>
    public PolicyDecision CheckRun(ControlRole role, OciSpec spec, string? bundleDir)
    {
        if (role == ControlRole.Admin)
            return PolicyDecision.Allow;

        if (bundleDir is not null && !Inside(bundleDir, _settings.AllowedBundleRoots))
            return Deny($"bundle {bundleDir} is outside the allowed bundle roots{List(_settings.AllowedBundleRoots)}");
        var rootPath = spec.Root?.Path;
        if (string.IsNullOrEmpty(rootPath))
            return Deny("the config has no root.path");
        if (bundleDir is null && !Path.IsPathRooted(rootPath))
            return Deny("an inline config needs an absolute root.path");
        var rootfs = Absolute(rootPath, bundleDir);
        if (!Inside(rootfs, _settings.AllowedBundleRoots))
            return Deny($"rootfs {rootfs} is outside the allowed bundle roots{List(_settings.AllowedBundleRoots)}");

        if (HasHooks(spec.Hooks))
            return Deny("hooks run on the host as root: only an admin may set them");

        if (spec.Process?.Capabilities is { } caps)
        {
            var all = new[] { caps.Bounding, caps.Effective, caps.Permitted, caps.Inheritable, caps.Ambient }
                .Where(l => l is not null)
                .SelectMany(l => l!)
                .Select(c => c.StartsWith("CAP_", StringComparison.OrdinalIgnoreCase) ? c.ToUpperInvariant() : "CAP_" + c.ToUpperInvariant())
                .Distinct()
                .Order(StringComparer.Ordinal);
            foreach (var cap in all)
            {
                if (!_settings.OperatorCapabilities.Contains(cap))
                    return Deny($"capability {cap} is beyond the default set");
            }
        }

        var namespaces = spec.Linux?.Namespaces ?? [];
        foreach (var ns in namespaces)
        {
            if (!string.IsNullOrEmpty(ns.Path))
                return Deny($"joining an existing {ns.Type} namespace ({ns.Path}) is a host namespace");
        }
        foreach (var required in RequiredNamespaces)
        {
            if (!namespaces.Any(n => string.Equals(n.Type, required, StringComparison.Ordinal)))
                return Deny($"the container would share the host's {required} namespace");
        }

        foreach (var mount in spec.Mounts ?? [])
        {
            if (!IsBind(mount))
                continue;
            if (string.IsNullOrEmpty(mount.Source))
                return Deny($"bind mount at {mount.Destination} has no source");
            var source = Absolute(mount.Source, bundleDir ?? "/");
            if (!Inside(source, _settings.AllowedBindRoots))
                return Deny($"bind mount of host path {source} (at {mount.Destination}) is outside the allowed bind roots{List(_settings.AllowedBindRoots)}");
        }

        if (spec.Linux?.Devices is { Count: > 0 } devices)
            return Deny($"extra device {devices[0].Path} ({devices[0].Type} {devices[0].Major}:{devices[0].Minor})");
        foreach (var rule in spec.Linux?.Resources?.Devices ?? [])
        {
            if (!rule.Allow)
                continue;
            var wildcard = rule.Type is null or "a" || rule.Major is null or -1 || rule.Minor is null or -1;
            var text = $"{rule.Type ?? "a"} {Num(rule.Major)}:{Num(rule.Minor)} {rule.Access}";
            return Deny(wildcard ? $"device wildcard rule \"{text}\"" : $"device access rule \"{text}\"");
        }

        if (spec.Linux?.Seccomp is null)
            return Deny("the container has no seccomp profile");

        return PolicyDecision.Allow;
    }

    /// <summary>May <paramref name="role"/> write or read CRIU images at <paramref name="imagePath"/>?</summary>
    public PolicyDecision CheckImagePath(ControlRole role, string imagePath)
    {
        if (role == ControlRole.Admin)
            return PolicyDecision.Allow;
        if (string.IsNullOrEmpty(imagePath) || !Path.IsPathRooted(imagePath))
            return Deny("the image path must be absolute");
        if (!Inside(imagePath, _settings.AllowedImageRoots))
            return Deny($"image path {imagePath} is outside the allowed image roots{List(_settings.AllowedImageRoots)}");
        return PolicyDecision.Allow;
    }

    private static PolicyDecision Deny(string reason) => PolicyDecision.Deny($"operator certificate: {reason}");

    private static string List(IReadOnlyList<string> roots) => roots.Count == 0 ? " (none are configured)" : $" ({string.Join(", ", roots)})";

    private static string Num(long? n) => n is null or -1 ? "*" : n.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static bool HasHooks(OciHooks? h) =>
        h is not null && new[] { h.Prestart, h.CreateRuntime, h.CreateContainer, h.StartContainer, h.Poststart, h.Poststop }.Any(l => l is { Count: > 0 });

    private static bool IsBind(OciMount m) =>
        string.Equals(m.Type, "bind", StringComparison.Ordinal) ||
        (m.Options?.Any(o => o is "bind" or "rbind") ?? false);

    private static string Absolute(string path, string? baseDir) =>
        Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(baseDir ?? "/", path));

    private bool Inside(string path, IReadOnlyList<string> roots)
    {
        var real = _resolve(Path.GetFullPath(path));
        foreach (var root in roots)
        {
            var r = _resolve(Path.GetFullPath(root)).TrimEnd('/');
            if (r.Length == 0)
                return true;
            if (real == r || real.StartsWith(r + "/", StringComparison.Ordinal))
                return true;
        }
        return false;
    }

    /// <summary>
    /// The real path: every existing component's symbolic link is followed (relative targets against their
    /// directory); the components that do not exist yet are kept as they are.
    /// </summary>
    public static string ResolvePath(string path) => ResolvePath(path, 0);

    private static string ResolvePath(string path, int hops)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = "/";
        for (int i = 0; i < parts.Length; i++)
        {
            var next = Path.Combine(current, parts[i]);
            FileSystemInfo info = new FileInfo(next);
            if (!info.Exists)
                info = new DirectoryInfo(next);
            if (info.Exists && info.LinkTarget is { } target)
            {
                // The kernel's own limit on links followed in one lookup (ELOOP).
                if (hops >= 40)
                    return next;
                var resolved = Path.GetFullPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target));
                var rest = parts.Skip(i + 1);
                return ResolvePath(Path.Combine([resolved, .. rest]), hops + 1);
            }
            current = next;
        }
        return current;
    }
}

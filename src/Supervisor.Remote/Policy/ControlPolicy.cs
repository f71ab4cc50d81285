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
/// <item>checkpoint images only inside <see cref="PolicySettings.AllowedImageRoots"/>;</item>
/// <item>none of the default hardening of `supervisor spec` weakened: every default masked and read-only path
/// kept, no_new_privs on, no LSM label of its own choosing, no rlimit above the daemon's hard limit, proc only
/// at /proc, sysfs and cgroupfs only read-only, no bind of the host's /proc or /sys, and only sysctls that
/// the container's own ipc or network namespace confines.</item>
/// </list>
/// Paths are compared after making them absolute and resolving symbolic links (through
/// <see cref="ResolvePath"/>), so `..` or a link inside an allowed root cannot point outside it.
/// </summary>
public sealed class ControlPolicy
{
    private static readonly string[] RequiredNamespaces = ["pid", "mount", "ipc", "uts", "network"];

    private readonly PolicySettings _settings;
    private readonly Func<string, string> _resolve;
    private readonly Func<string, ulong?> _hostHardLimit;

    /// <param name="resolvePath">Maps an absolute path to its real path; the default resolves symbolic links on this host.</param>
    /// <param name="hostHardLimit">The host's hard limit for an RLIMIT_* name (null: unlimited); the default reads the daemon's own.</param>
    public ControlPolicy(PolicySettings settings, Func<string, string>? resolvePath = null, Func<string, ulong?>? hostHardLimit = null)
    {
        _settings = settings;
        _resolve = resolvePath ?? ResolvePath;
        _hostHardLimit = hostHardLimit ?? DaemonHardLimit;
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

        return CheckHardening(spec, bundleDir);
    }

    /// <summary>
    /// The hardening `supervisor spec` applies (security-anchors H2, H5, H7, S14) that an operator may not take
    /// away. Each rule closes a way for root in the container to reach the host's kernel state.
    /// </summary>
    private PolicyDecision CheckHardening(OciSpec spec, string? bundleDir)
    {
        var linux = spec.Linux!;

        // Masked paths hide host-wide kernel state that procfs and sysfs show in every namespace (kernel
        // memory, keyrings, firmware tables, timers that leak addresses).
        var masked = new HashSet<string>((linux.MaskedPaths ?? []).Select(Normalize), StringComparer.Ordinal);
        foreach (var path in DefaultHardening.MaskedPaths!)
        {
            if (!masked.Contains(path))
                return Deny($"maskedPaths must keep {path} (the default spec masks it)");
        }
        // Read-only paths keep the host-wide knobs under /proc (sysctls, sysrq-trigger, irq affinity) from
        // being written by the container's root; masking one instead hides it and is at least as strict.
        var readOnly = new HashSet<string>((linux.ReadonlyPaths ?? []).Select(Normalize), StringComparer.Ordinal);
        foreach (var path in DefaultHardening.ReadonlyPaths!)
        {
            if (!readOnly.Contains(path) && !masked.Contains(path))
                return Deny($"readonlyPaths must keep {path} (the default spec makes it read-only)");
        }

        // Without no_new_privs a setuid binary or file capability in the image gains privileges at execve.
        if (spec.Process?.NoNewPrivileges != true)
            return Deny("noNewPrivileges must be true (setuid and file capabilities would raise privileges)");

        // LSM labels are the host's confinement of the container; "unconfined" or another domain is the
        // host's choice, not the requester's.
        if (!string.IsNullOrEmpty(spec.Process?.ApparmorProfile))
            return Deny($"apparmorProfile \"{spec.Process.ApparmorProfile}\" is set: only an admin may choose an LSM profile");
        if (!string.IsNullOrEmpty(spec.Process?.SelinuxLabel))
            return Deny($"selinuxLabel \"{spec.Process.SelinuxLabel}\" is set: only an admin may choose an LSM label");
        if (!string.IsNullOrEmpty(linux.MountLabel))
            return Deny($"mountLabel \"{linux.MountLabel}\" is set: only an admin may choose an LSM label");

        // Raising a hard limit above the daemon's own needs CAP_SYS_RESOURCE on the host, which the runtime
        // has and the requester does not (locked memory, open files, processes are host-wide resources).
        foreach (var rlimit in spec.Process?.Rlimits ?? [])
        {
            var host = _hostHardLimit(rlimit.Type ?? "");
            if (host is { } max && (rlimit.Hard > max || rlimit.Soft > max))
                return Deny($"rlimit {rlimit.Type} {Limit(Math.Max(rlimit.Hard, rlimit.Soft))} is above the host's hard limit {Limit(max)}");
        }

        var ownNetwork = (linux.Namespaces ?? []).Any(n => n.Type == "network" && string.IsNullOrEmpty(n.Path));
        foreach (var name in (linux.Sysctl ?? []).Keys.Order(StringComparer.Ordinal))
        {
            if (!IsNamespacedSysctl(name, ownNetwork))
                return Deny($"sysctl {name} is not confined to the container's own ipc or network namespace");
        }

        foreach (var mount in spec.Mounts ?? [])
        {
            var destination = Normalize(mount.Destination ?? "");
            var options = mount.Options ?? [];
            var readOnlyMount = options.Contains("ro");
            switch (mount.Type)
            {
                // A second procfs anywhere else would escape the masks and read-only paths, which are
                // applied under /proc only (its sys/kernel/core_pattern would be writable by root).
                case "proc" when destination != "/proc":
                    return Deny($"procfs at {destination}: only /proc gets the masked and read-only paths");
                case "sysfs" when !readOnlyMount:
                    return Deny($"sysfs at {destination} is writable: it must be mounted \"ro\"");
                case "sysfs" when destination != "/sys":
                    return Deny($"sysfs at {destination}: only /sys gets the masked paths");
                // A writable cgroup v1 hierarchy lets root in the container set release_agent, which the
                // kernel runs as root on the host (CVE-2022-0492).
                case "cgroup" or "cgroup2" when !readOnlyMount:
                    return Deny($"cgroupfs at {destination} is writable: it must be mounted \"ro\"");
            }
            if (IsBind(mount) && !string.IsNullOrEmpty(mount.Source))
            {
                var source = _resolve(Absolute(mount.Source, bundleDir ?? "/"));
                if (source is "/proc" or "/sys" || source.StartsWith("/proc/", StringComparison.Ordinal) || source.StartsWith("/sys/", StringComparison.Ordinal))
                    return Deny($"bind mount of the host's {source} (at {destination}) exposes host processes or kernel state");
            }
        }

        return PolicyDecision.Allow;
    }

    /// <summary>
    /// Sysctls whose value belongs to a namespace the container owns (the same set runc's validation accepts
    /// for an unprivileged container): System V IPC and POSIX message queues are per ipc namespace, net.* per
    /// network namespace. Everything else under /proc/sys is host-wide.
    /// </summary>
    public static bool IsNamespacedSysctl(string name, bool ownNetworkNamespace)
    {
        if (name is "kernel.msgmax" or "kernel.msgmnb" or "kernel.msgmni" or "kernel.sem" or "kernel.shmall" or "kernel.shmmax"
            or "kernel.shmmni" or "kernel.shm_rmid_forced")
            return true;
        if (name.StartsWith("fs.mqueue.", StringComparison.Ordinal) && name.Length > "fs.mqueue.".Length)
            return true;
        return ownNetworkNamespace && name.StartsWith("net.", StringComparison.Ordinal) && name.Length > "net.".Length;
    }

    /// <summary>The hard limit of this process (the daemon) for an RLIMIT_* name, from /proc/self/limits; null when unlimited or unknown.</summary>
    public static ulong? DaemonHardLimit(string rlimit)
    {
        if (!LimitNames.TryGetValue(rlimit, out var label))
            return null;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (!line.StartsWith(label, StringComparison.Ordinal))
                    continue;
                // "Max open files            20000                20000                files"
                var fields = line[label.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return fields.Length >= 2 && ulong.TryParse(fields[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var hard)
                    ? hard
                    : null;
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    private static readonly Dictionary<string, string> LimitNames = new(StringComparer.Ordinal)
    {
        ["RLIMIT_CPU"] = "Max cpu time",
        ["RLIMIT_FSIZE"] = "Max file size",
        ["RLIMIT_DATA"] = "Max data size",
        ["RLIMIT_STACK"] = "Max stack size",
        ["RLIMIT_CORE"] = "Max core file size",
        ["RLIMIT_RSS"] = "Max resident set",
        ["RLIMIT_NPROC"] = "Max processes",
        ["RLIMIT_NOFILE"] = "Max open files",
        ["RLIMIT_MEMLOCK"] = "Max locked memory",
        ["RLIMIT_AS"] = "Max address space",
        ["RLIMIT_LOCKS"] = "Max file locks",
        ["RLIMIT_SIGPENDING"] = "Max pending signals",
        ["RLIMIT_MSGQUEUE"] = "Max msgqueue size",
        ["RLIMIT_NICE"] = "Max nice priority",
        ["RLIMIT_RTPRIO"] = "Max realtime priority",
        ["RLIMIT_RTTIME"] = "Max realtime timeout",
    };

    private static string Limit(ulong v) => v == ulong.MaxValue ? "unlimited" : v.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The masked and read-only paths of `supervisor spec` (the same for a rootless spec).</summary>
    private static readonly OciLinux DefaultHardening = Normalized(DefaultSpec.Create().Linux!);

    private static OciLinux Normalized(OciLinux l) => l with
    {
        MaskedPaths = (l.MaskedPaths ?? []).Select(Normalize).ToList(),
        ReadonlyPaths = (l.ReadonlyPaths ?? []).Select(Normalize).ToList(),
    };

    /// <summary>A container path without `.`, `..`, doubled or trailing slashes, so "/proc//kcore/" counts as /proc/kcore.</summary>
    private static string Normalize(string containerPath)
    {
        if (containerPath.Length == 0)
            return containerPath;
        var full = Path.GetFullPath(containerPath.StartsWith('/') ? containerPath : "/" + containerPath);
        return full.Length > 1 ? full.TrimEnd('/') : full;
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

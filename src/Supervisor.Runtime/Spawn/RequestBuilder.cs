using Supervisor.Linux.Shim;
using Supervisor.Runtime.Capabilities;
using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Rlimits;
using Supervisor.Runtime.Rootfs;
using Supervisor.Runtime.Seccomp;
using Supervisor.Runtime.Users;

namespace Supervisor.Runtime.Spawn;

/// <summary>
/// Builds the shim request from a validated config. Everything is resolved here, before the clone:
/// user names to ids, capability names to masks, rlimit names to numbers, OCI mounts to rootfs operations.
/// The shim's child then runs only syscalls on these values.
/// </summary>
public static class RequestBuilder
{
    public const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static ShimRequest ForInit(
        ContainerConfig config,
        ExecUser user,
        string bundleDir,
        string stateDir,
        IReadOnlyList<CgroupMountSource> cgroupSources,
        bool waitStart,
        uint preserveFds,
        Func<SeccompConfig, ShimSeccomp>? compileSeccomp = null)
    {
        var r = new ShimRequest
        {
            Mode = ShimMode.Init,
            Rootfs = config.Rootfs,
            StateDir = stateDir,
            Hostname = config.Hostname,
            Domainname = config.Domainname,
            RootPropagation = config.RootPropagation,
            PreserveFds = preserveFds,
            ParentDeathSignal = config.ParentDeathSignal,
        };
        var flags = ShimFlags.None;
        foreach (var type in NamespaceTypes.JoinOrder)
        {
            var ns = config.GetNamespace(type);
            if (ns is null)
                continue;
            r.Namespaces.Add(new ShimNamespace(type.CloneFlag(), string.IsNullOrEmpty(ns.Path) ? null : ns.Path));
        }
        if (config.CreatesNamespace(NamespaceType.User))
            flags |= ShimFlags.NewUserns | ShimFlags.DevBind;
        if (config.CreatesNamespace(NamespaceType.Mount))
            flags |= ShimFlags.SetupRootfs;
        if (config.CreatesNamespace(NamespaceType.Network))
            flags |= ShimFlags.LoopbackUp;
        if (config.CreatesNamespace(NamespaceType.Cgroup))
            flags |= ShimFlags.NewCgroupns;
        if (config.NoPivotRoot)
            flags |= ShimFlags.NoPivot;
        if (config.ReadonlyRootfs)
            flags |= ShimFlags.ReadonlyRootfs;
        if (waitStart)
            flags |= ShimFlags.WaitStart;

        if ((flags & ShimFlags.SetupRootfs) != 0)
        {
            r.RootfsOps.AddRange(MountPlanner.Plan(config, bundleDir, cgroupSources));
            r.MaskPaths.AddRange(config.MaskedPaths);
            r.ReadonlyPaths.AddRange(config.ReadonlyPaths);
        }
        foreach (var (key, value) in config.Sysctl.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            r.Sysctls.Add((key.Replace('.', '/'), value));

        r.Flags = flags | ProcessFlags(config.Process);
        FillProcess(r, config.Process, user);
        if (config.Seccomp is { } seccomp)
            r.Seccomp = (compileSeccomp ?? SeccompCompiler.Compile)(seccomp);
        return r;
    }

    /// <summary>A request to start <paramref name="process"/> inside a running container.</summary>
    public static ShimRequest ForExec(
        ProcessConfig process,
        ExecUser user,
        IReadOnlyList<(NamespaceType Type, string Path)> namespaces,
        SeccompConfig? seccomp,
        uint preserveFds,
        Func<SeccompConfig, ShimSeccomp>? compileSeccomp = null)
    {
        var r = new ShimRequest { Mode = ShimMode.Exec, PreserveFds = preserveFds };
        foreach (var type in NamespaceTypes.JoinOrder)
        {
            foreach (var (t, path) in namespaces)
            {
                if (t == type)
                    r.Namespaces.Add(new ShimNamespace(type.CloneFlag(), path));
            }
        }
        r.Flags = ProcessFlags(process);
        FillProcess(r, process, user);
        // An exec'd process gets the container's filter too: it runs in the same sandbox as the init.
        if (seccomp is not null)
            r.Seccomp = (compileSeccomp ?? SeccompCompiler.Compile)(seccomp);
        return r;
    }

    private static ShimFlags ProcessFlags(ProcessConfig p)
    {
        var flags = ShimFlags.None;
        if (p.NoNewPrivileges)
            flags |= ShimFlags.NoNewPrivs;
        if (p.Terminal)
            flags |= ShimFlags.Terminal;
        return flags;
    }

    private static void FillProcess(ShimRequest r, ProcessConfig p, ExecUser user)
    {
        r.Args.AddRange(p.Args);
        r.Env.AddRange(BuildEnv(p.Env, user.Home));
        r.Cwd = string.IsNullOrEmpty(p.Cwd) ? "/" : p.Cwd;
        r.User = new ShimUser(user.Uid, user.Gid, p.User.Umask, user.Sgids);
        if (p.Capabilities is { } caps)
        {
            r.Caps = new ShimCaps(
                Mask(caps.Bounding), Mask(caps.Effective), Mask(caps.Permitted),
                Mask(caps.Inheritable), Mask(caps.Ambient));
        }
        foreach (var rl in p.Rlimits)
            r.Rlimits.Add(new ShimRlimit((uint)RlimitNames.Parse(rl.Type), rl.Soft, rl.Hard));
        r.OomScoreAdj = p.OomScoreAdj;
        if (p.ConsoleSize is { } size)
            r.ConsoleSize = (size.Height, size.Width);
    }

    /// <summary>
    /// The process environment: entries in order with the last duplicate winning (reference §1.5), and
    /// HOME from the user's passwd entry when the config does not set it.
    /// </summary>
    public static IReadOnlyList<string> BuildEnv(IReadOnlyList<string> env, string home)
    {
        var result = new List<string>(env.Count + 1);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in env)
        {
            int eq = entry.IndexOf('=');
            var key = eq < 0 ? entry : entry[..eq];
            if (index.TryGetValue(key, out int at))
                result[at] = entry;
            else
            {
                index[key] = result.Count;
                result.Add(entry);
            }
        }
        if (!index.ContainsKey("HOME"))
            result.Add("HOME=" + (string.IsNullOrEmpty(home) ? "/" : home));
        return result;
    }

    private static ulong Mask(IReadOnlyList<string> names)
    {
        // Unknown names were rejected by validation; ToMask reports them again only as a safety net.
        return CapabilityNames.ToMask(names, out _);
    }
}

using Supervisor.Runtime.Configs;
using Supervisor.Runtime.Validation;

namespace Supervisor.Runtime.Oci;

/// <summary>
/// Converts an OCI runtime-spec config into the internal <see cref="ContainerConfig"/>. It fixes up what the
/// spec leaves relative (root.path, bind sources), splits mount options, adds the devices every container
/// gets and the device-cgroup rules, and refuses what cannot be represented or honoured. It does not check
/// the host (rootfs existence, namespace paths): that is <see cref="ConfigValidator"/>'s job.
/// </summary>
public static class SpecConverter
{
    /// <summary>
    /// Device nodes every container gets (runtime-spec config-linux.md "Default Devices"), all 0666 char
    /// devices. /dev/console and /dev/ptmx are not nodes: they are set up with the console and devpts.
    /// </summary>
    public static readonly IReadOnlyList<DeviceNode> DefaultDevices =
    [
        new() { Path = "/dev/null", Type = 'c', Major = 1, Minor = 3, FileMode = 0x1B6 },
        new() { Path = "/dev/zero", Type = 'c', Major = 1, Minor = 5, FileMode = 0x1B6 },
        new() { Path = "/dev/full", Type = 'c', Major = 1, Minor = 7, FileMode = 0x1B6 },
        new() { Path = "/dev/random", Type = 'c', Major = 1, Minor = 8, FileMode = 0x1B6 },
        new() { Path = "/dev/urandom", Type = 'c', Major = 1, Minor = 9, FileMode = 0x1B6 },
        new() { Path = "/dev/tty", Type = 'c', Major = 5, Minor = 0, FileMode = 0x1B6 },
    ];

    /// <summary>The first device-cgroup rule of every container: deny everything, then allow by list.</summary>
    public static readonly DeviceRule DenyAll = new(false, 'a', null, null, "rwm");

    /// <summary>
    /// Allow rules appended after the configured ones: the default devices, every /dev/pts/N (136:*) and
    /// /dev/ptmx (5:2), which a terminal needs.
    ///
    /// Unlike runc, there are no "c *:* m" / "b *:* m" rules. runc allows mknod of any device so that a
    /// process with CAP_MKNOD can create nodes it then cannot open; its own source calls this questionable.
    /// Without them a container cannot create device nodes at all (mknod returns EPERM), which is the
    /// stricter behaviour the runtime-spec permits ("MAY NOT access any device node" beyond those listed);
    /// see security-anchors S15.
    /// </summary>
    public static readonly IReadOnlyList<DeviceRule> DefaultAllowRules =
    [
        .. DefaultDevices.Select(d => new DeviceRule(true, 'c', d.Major, d.Minor, "rwm")),
        new DeviceRule(true, 'c', 136, null, "rwm"),
        new DeviceRule(true, 'c', 5, 2, "rwm"),
    ];

    public static ContainerConfig Convert(OciSpec spec, string bundleDir)
    {
        if (bundleDir.Contains('\0')) throw new ConfigException("bundle: path contains a NUL byte");
        var bundle = CleanAbsolute(Path.GetFullPath(bundleDir));
        var linux = spec.Linux ?? new OciLinux();

        if (spec.Root?.Path is not { Length: > 0 } rootPath)
            throw new ConfigException("root.path: required");
        var rootfs = FullPath(rootPath, bundle, "root.path");

        if (spec.Process is null)
            throw new ConfigException("process: required");

        RefuseUnsupported(linux);

        if (!MountOptions.TryParsePropagation(linux.RootfsPropagation, out var rootPropagation))
            throw new ConfigException($"linux.rootfsPropagation: unknown propagation \"{linux.RootfsPropagation}\"");

        var devices = ConvertDevices(linux.Devices);

        return new ContainerConfig
        {
            OciVersion = spec.OciVersion ?? "",
            Rootfs = rootfs,
            ReadonlyRootfs = spec.Root.Readonly ?? false,
            RootPropagation = rootPropagation,
            Hostname = spec.Hostname,
            Domainname = spec.Domainname,
            Mounts = ConvertMounts(spec.Mounts, bundle),
            Devices = devices,
            Namespaces = ConvertNamespaces(linux.Namespaces),
            UidMappings = ConvertIdMaps(linux.UidMappings),
            GidMappings = ConvertIdMaps(linux.GidMappings),
            Cgroups = new CgroupConfig
            {
                Path = string.IsNullOrEmpty(linux.CgroupsPath) ? null : linux.CgroupsPath,
                Resources = ConvertResources(linux.Resources, devices),
            },
            Process = ConvertProcess(spec.Process, "process"),
            Sysctl = linux.Sysctl is { } sysctl ? new Dictionary<string, string>(sysctl) : new Dictionary<string, string>(),
            MaskedPaths = Copy(linux.MaskedPaths, "linux.maskedPaths"),
            ReadonlyPaths = Copy(linux.ReadonlyPaths, "linux.readonlyPaths"),
            Seccomp = ConvertSeccomp(linux.Seccomp),
            Hooks = ConvertHooks(spec.Hooks),
            Annotations = spec.Annotations is { } a ? new Dictionary<string, string>(a) : new Dictionary<string, string>(),
        };
    }

    /// <summary>
    /// Converts a process object (config.json's process, or the process.json of <c>exec --process</c>).
    /// <paramref name="field"/> prefixes error messages.
    /// </summary>
    public static ProcessConfig ConvertProcess(OciProcess p, string field = "process")
    {
        ConsoleSize? console = null;
        if (p.ConsoleSize is { } cs)
        {
            if (cs.Height > ushort.MaxValue || cs.Width > ushort.MaxValue)
                throw new ConfigException($"{field}.consoleSize: height and width must be at most {ushort.MaxValue}");
            console = new ConsoleSize((ushort)cs.Height, (ushort)cs.Width);
        }
        var rlimits = new List<Rlimit>();
        for (var i = 0; i < (p.Rlimits?.Count ?? 0); i++)
        {
            var r = p.Rlimits![i] ?? throw new ConfigException($"{field}.rlimits[{i}]: must be an object, not null");
            if (string.IsNullOrEmpty(r.Type)) throw new ConfigException($"{field}.rlimits[{i}].type: required");
            rlimits.Add(new Rlimit(r.Type, r.Hard, r.Soft));
        }
        return new ProcessConfig
        {
            Args = Copy(p.Args, $"{field}.args"),
            Env = Copy(p.Env, $"{field}.env"),
            Cwd = p.Cwd ?? "",
            Terminal = p.Terminal ?? false,
            ConsoleSize = console,
            User = p.User is { } u
                ? new UserConfig
                {
                    Uid = u.Uid ?? 0,
                    Gid = u.Gid ?? 0,
                    Umask = u.Umask,
                    AdditionalGids = u.AdditionalGids?.ToArray() ?? [],
                    Username = string.IsNullOrEmpty(u.Username) ? null : u.Username,
                }
                : new UserConfig(),
            Capabilities = p.Capabilities is { } c
                ? new CapabilitySet
                {
                    Bounding = Copy(c.Bounding, $"{field}.capabilities.bounding"),
                    Effective = Copy(c.Effective, $"{field}.capabilities.effective"),
                    Inheritable = Copy(c.Inheritable, $"{field}.capabilities.inheritable"),
                    Permitted = Copy(c.Permitted, $"{field}.capabilities.permitted"),
                    Ambient = Copy(c.Ambient, $"{field}.capabilities.ambient"),
                }
                : null,
            Rlimits = rlimits,
            NoNewPrivileges = p.NoNewPrivileges ?? false,
            OomScoreAdj = p.OomScoreAdj,
            ApparmorProfile = string.IsNullOrEmpty(p.ApparmorProfile) ? null : p.ApparmorProfile,
            SelinuxLabel = string.IsNullOrEmpty(p.SelinuxLabel) ? null : p.SelinuxLabel,
        };
    }

    // Members the runtime cannot honour. Ignoring them would run the container with weaker isolation or a
    // different environment than the bundle asked for, so they are refused instead.
    private static void RefuseUnsupported(OciLinux linux)
    {
        if (!string.IsNullOrEmpty(linux.MountLabel))
            throw new ConfigException("linux.mountLabel: SELinux mount labels are not supported by this runtime");
        if (linux.IntelRdt is not null)
            throw new ConfigException("linux.intelRdt: Intel RDT is not supported by this runtime");
        if (linux.Personality is not null)
            throw new ConfigException("linux.personality: setting the execution domain is not supported by this runtime");
        if (linux.TimeOffsets is { Count: > 0 })
            throw new ConfigException("linux.timeOffsets: time namespace offsets are not supported by this runtime");
    }

    private static List<Mount> ConvertMounts(List<OciMount>? mounts, string bundle)
    {
        var result = new List<Mount>();
        for (var i = 0; i < (mounts?.Count ?? 0); i++)
        {
            var m = mounts![i] ?? throw new ConfigException($"mounts[{i}]: must be an object, not null");
            if (string.IsNullOrEmpty(m.Destination))
                throw new ConfigException($"mounts[{i}].destination: required");
            if (m.UidMappings is { Count: > 0 } || m.GidMappings is { Count: > 0 })
                throw new ConfigException($"mounts[{i}]: idmapped mounts (uidMappings/gidMappings) are not supported by this runtime");
            var opts = MountOptions.Parse(Copy(m.Options, $"mounts[{i}].options"));
            var isBind = m.Type == "bind" || opts.Bind;
            var flags = opts.Flags | (isBind ? MountFlags.Bind : 0);
            var source = m.Source ?? "";
            // A relative bind source is relative to the bundle, like root.path.
            if (isBind && source.Length > 0 && !source.StartsWith('/'))
                source = FullPath(source, bundle, $"mounts[{i}].source");
            result.Add(new Mount
            {
                Destination = m.Destination,
                Source = source,
                Type = isBind ? "bind" : m.Type ?? "",
                Flags = flags,
                ClearedFlags = opts.ClearedFlags,
                PropagationFlags = opts.PropagationFlags,
                Data = opts.Data,
            });
        }
        return result;
    }

    private static List<NamespaceConfig> ConvertNamespaces(List<OciNamespace>? namespaces)
    {
        var result = new List<NamespaceConfig>();
        for (var i = 0; i < (namespaces?.Count ?? 0); i++)
        {
            var ns = namespaces![i] ?? throw new ConfigException($"linux.namespaces[{i}]: must be an object, not null");
            if (string.IsNullOrEmpty(ns.Type))
                throw new ConfigException($"linux.namespaces[{i}].type: required");
            if (!NamespaceTypes.TryParseOci(ns.Type, out var type))
                throw new ConfigException($"linux.namespaces[{i}]: unknown namespace type \"{ns.Type}\"");
            if (result.Any(n => n.Type == type))
                throw new ConfigException($"linux.namespaces[{i}]: duplicate namespace type \"{ns.Type}\"");
            result.Add(new NamespaceConfig(type, string.IsNullOrEmpty(ns.Path) ? null : ns.Path));
        }
        return result;
    }

    private static List<IdMap> ConvertIdMaps(List<OciIdMapping>? maps) =>
        maps?.Where(m => m is not null).Select(m => new IdMap(m.ContainerId, m.HostId, m.Size)).ToList() ?? [];

    private static List<DeviceNode> ConvertDevices(List<OciDevice>? devices)
    {
        var configured = new List<DeviceNode>();
        for (var i = 0; i < (devices?.Count ?? 0); i++)
        {
            var d = devices![i] ?? throw new ConfigException($"linux.devices[{i}]: must be an object, not null");
            if (string.IsNullOrEmpty(d.Path)) throw new ConfigException($"linux.devices[{i}].path: required");
            if (d.Type is not ("c" or "b" or "u" or "p"))
                throw new ConfigException($"linux.devices[{i}].type: must be \"c\", \"b\", \"u\" or \"p\", not \"{d.Type}\"");
            var type = d.Type[0];
            if (type != 'p' && (d.Major is null || d.Minor is null))
                throw new ConfigException($"linux.devices[{i}]: major and minor are required for type \"{d.Type}\"");
            configured.Add(new DeviceNode
            {
                Path = d.Path,
                Type = type,
                Major = d.Major ?? 0,
                Minor = d.Minor ?? 0,
                // fileMode may carry the S_IFMT type bits (runc spec writes them sometimes); only the
                // permission bits are kept, the type comes from "type".
                FileMode = (d.FileMode ?? 0x1B6) & 0xFFF,
                Uid = d.Uid ?? 0,
                Gid = d.Gid ?? 0,
            });
        }
        var defaults = DefaultDevices.Where(def => !configured.Any(c => c.Path == def.Path));
        return [.. defaults, .. configured];
    }

    /// <summary>
    /// A linux.resources document given to <c>update</c>: only what it sets. Device rules are kept out
    /// unless the document has some, because rewriting the device cgroup (deny all, then re-allow) opens a
    /// window in which even /dev/null is denied (security-anchors S15).
    /// </summary>
    public static Resources ConvertResourcesUpdate(OciResources r)
    {
        var converted = ConvertResources(r, []);
        return r.Devices is { Count: > 0 } ? converted : converted with { Devices = [] };
    }

    private static Resources ConvertResources(OciResources? r, IReadOnlyList<DeviceNode> devices)
    {
        // Device access (escape class 7: a container with CAP_MKNOD making and reading a host disk node):
        // the device cgroup starts from deny-all, so only the listed devices can be opened.
        var rules = new List<DeviceRule> { DenyAll };
        var ociRules = r?.Devices ?? [];
        for (var i = 0; i < ociRules.Count; i++)
        {
            var d = ociRules[i] ?? throw new ConfigException($"linux.resources.devices[{i}]: must be an object, not null");
            var type = d.Type ?? "a";
            if (type is not ("a" or "b" or "c"))
                throw new ConfigException($"linux.resources.devices[{i}].type: must be \"a\", \"b\" or \"c\", not \"{type}\"");
            var rule = new DeviceRule(d.Allow, type[0], type == "a" ? null : d.Major, type == "a" ? null : d.Minor,
                string.IsNullOrEmpty(d.Access) ? "rwm" : d.Access);
            // runc spec begins the list with the same deny-all; it would only repeat ours.
            if (i == 0 && rule == DenyAll) continue;
            rules.Add(rule);
        }
        // Nodes the config asks to create must also be usable, as the runtime-spec requires for linux.devices.
        foreach (var dev in devices)
        {
            if (dev.Type is 'c' or 'b' or 'u' && !DefaultDevices.Any(def => def.Major == dev.Major && def.Minor == dev.Minor && dev.Type == 'c'))
                rules.Add(new DeviceRule(true, dev.Type == 'b' ? 'b' : 'c', dev.Major, dev.Minor, "rwm"));
        }
        rules.AddRange(DefaultAllowRules);

        if (r is null) return new Resources { Devices = rules };
        return new Resources
        {
            Devices = rules,
            Memory = r.Memory is { } m
                ? new MemoryResources
                {
                    Limit = m.Limit, Reservation = m.Reservation, Swap = m.Swap, Kernel = m.Kernel, KernelTcp = m.KernelTcp,
                    Swappiness = m.Swappiness, DisableOomKiller = m.DisableOomKiller, UseHierarchy = m.UseHierarchy,
                    CheckBeforeUpdate = m.CheckBeforeUpdate,
                }
                : null,
            Cpu = r.Cpu is { } c
                ? new CpuResources
                {
                    Shares = c.Shares, Quota = c.Quota, Period = c.Period, Burst = c.Burst, RealtimeRuntime = c.RealtimeRuntime,
                    RealtimePeriod = c.RealtimePeriod, Cpus = c.Cpus, Mems = c.Mems, Idle = c.Idle,
                }
                : null,
            Pids = r.Pids is { } p ? new PidsResources { Limit = p.Limit } : null,
            BlockIo = r.BlockIo is { } b
                ? new BlockIoResources
                {
                    Weight = b.Weight,
                    LeafWeight = b.LeafWeight,
                    WeightDevices = b.WeightDevice?.Where(w => w is not null).Select(w => new WeightDevice(w.Major, w.Minor, w.Weight, w.LeafWeight)).ToList() ?? [],
                    ThrottleReadBpsDevices = Throttle(b.ThrottleReadBpsDevice),
                    ThrottleWriteBpsDevices = Throttle(b.ThrottleWriteBpsDevice),
                    ThrottleReadIopsDevices = Throttle(b.ThrottleReadIopsDevice),
                    ThrottleWriteIopsDevices = Throttle(b.ThrottleWriteIopsDevice),
                }
                : null,
            HugepageLimits = ConvertHugepages(r.HugepageLimits),
            Network = r.Network is { } n
                ? new NetworkResources
                {
                    ClassId = n.ClassId,
                    Priorities = n.Priorities?.Where(x => x is not null).Select((x, i) =>
                        new InterfacePriority(x.Name ?? throw new ConfigException($"linux.resources.network.priorities[{i}].name: required"), x.Priority)).ToList() ?? [],
                }
                : null,
            Unified = r.Unified is { } u ? new Dictionary<string, string>(u) : new Dictionary<string, string>(),
        };
    }

    private static List<ThrottleDevice> Throttle(List<OciThrottleDevice>? list) =>
        list?.Where(t => t is not null).Select(t => new ThrottleDevice(t.Major, t.Minor, t.Rate)).ToList() ?? [];

    private static List<HugepageLimit> ConvertHugepages(List<OciHugepageLimit>? list)
    {
        var result = new List<HugepageLimit>();
        for (var i = 0; i < (list?.Count ?? 0); i++)
        {
            var h = list![i] ?? throw new ConfigException($"linux.resources.hugepageLimits[{i}]: must be an object, not null");
            if (string.IsNullOrEmpty(h.PageSize)) throw new ConfigException($"linux.resources.hugepageLimits[{i}].pageSize: required");
            result.Add(new HugepageLimit(h.PageSize, h.Limit));
        }
        return result;
    }

    private static SeccompConfig? ConvertSeccomp(OciSeccomp? s)
    {
        if (s is null) return null;
        if (string.IsNullOrEmpty(s.DefaultAction)) throw new ConfigException("linux.seccomp.defaultAction: required");
        var syscalls = new List<SeccompSyscall>();
        for (var i = 0; i < (s.Syscalls?.Count ?? 0); i++)
        {
            var field = $"linux.seccomp.syscalls[{i}]";
            var sc = s.Syscalls![i] ?? throw new ConfigException($"{field}: must be an object, not null");
            if (sc.Names is not { Count: > 0 }) throw new ConfigException($"{field}.names: required (at least one name)");
            if (string.IsNullOrEmpty(sc.Action)) throw new ConfigException($"{field}.action: required");
            var args = new List<SeccompArg>();
            for (var j = 0; j < (sc.Args?.Count ?? 0); j++)
            {
                var a = sc.Args![j] ?? throw new ConfigException($"{field}.args[{j}]: must be an object, not null");
                if (string.IsNullOrEmpty(a.Op)) throw new ConfigException($"{field}.args[{j}].op: required");
                args.Add(new SeccompArg(a.Index, a.Value, a.ValueTwo, a.Op));
            }
            syscalls.Add(new SeccompSyscall
            {
                Names = Copy(sc.Names, $"{field}.names"),
                Action = sc.Action,
                ErrnoRet = sc.ErrnoRet,
                Args = args,
            });
        }
        return new SeccompConfig
        {
            DefaultAction = s.DefaultAction,
            DefaultErrnoRet = s.DefaultErrnoRet,
            Architectures = Copy(s.Architectures, "linux.seccomp.architectures"),
            Flags = Copy(s.Flags, "linux.seccomp.flags"),
            ListenerPath = string.IsNullOrEmpty(s.ListenerPath) ? null : s.ListenerPath,
            ListenerMetadata = string.IsNullOrEmpty(s.ListenerMetadata) ? null : s.ListenerMetadata,
            Syscalls = syscalls,
        };
    }

    private static HooksConfig ConvertHooks(OciHooks? h)
    {
        if (h is null) return new HooksConfig();
        return new HooksConfig
        {
            Prestart = ConvertHookList(h.Prestart, "hooks.prestart"),
            CreateRuntime = ConvertHookList(h.CreateRuntime, "hooks.createRuntime"),
            CreateContainer = ConvertHookList(h.CreateContainer, "hooks.createContainer"),
            StartContainer = ConvertHookList(h.StartContainer, "hooks.startContainer"),
            Poststart = ConvertHookList(h.Poststart, "hooks.poststart"),
            Poststop = ConvertHookList(h.Poststop, "hooks.poststop"),
        };
    }

    private static List<Hook> ConvertHookList(List<OciHook>? hooks, string field)
    {
        var result = new List<Hook>();
        for (var i = 0; i < (hooks?.Count ?? 0); i++)
        {
            var h = hooks![i] ?? throw new ConfigException($"{field}[{i}]: must be an object, not null");
            if (string.IsNullOrEmpty(h.Path)) throw new ConfigException($"{field}[{i}].path: required");
            result.Add(new Hook(h.Path, Copy(h.Args, $"{field}[{i}].args"), Copy(h.Env, $"{field}[{i}].env"), h.Timeout));
        }
        return result;
    }

    private static string[] Copy(List<string>? list, string? field = null)
    {
        if (list is null) return [];
        for (var i = 0; i < list.Count; i++)
            if (list[i] is null)
                throw new ConfigException($"{field ?? "list"}[{i}]: must be a string, not null");
        return [.. list];
    }

    private static string FullPath(string path, string basePath, string field) =>
        path.Contains('\0')
            ? throw new ConfigException($"{field}: contains a NUL byte")
            : CleanAbsolute(Path.GetFullPath(path, basePath));

    /// <summary>An absolute path without "." / ".." / duplicate or trailing slashes.</summary>
    internal static string CleanAbsolute(string fullPath) =>
        fullPath.Length > 1 ? fullPath.TrimEnd('/') is { Length: > 0 } t ? t : "/" : fullPath;
}
